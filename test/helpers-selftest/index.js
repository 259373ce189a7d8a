// `node --test test/helpers-selftest/` does not expand a directory: Node resolves it as a module, which
// for a folder means its index.js (never index.ts, hence plain JS here). So this index is what that
// command runs: every self-test in one process, which also proves the helpers leave nothing open.
// `npm test` finds the same files through its *.test.ts glob, one process each; this file is not matched.

import './certs.test.ts';
import './dns-server.test.ts';
import './golden.test.ts';
import './proxy-fetch.test.ts';
import './run.test.ts';
import './upstream.test.ts';
