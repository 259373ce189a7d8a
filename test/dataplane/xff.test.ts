// remote.ip from X-Forwarded-For with xff_num_trusted_hops (Envoy's use_remote_address semantics).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { remoteIpFromXff } from '../../src/dataplane/xff.ts';

const PEER = '192.0.2.1';

test('the Nth non-empty hop from the right, when it is an IP; else the peer', () => {
  const cases: [string | undefined, number, string][] = [
    ['1.1.1.1, 2.2.2.2, 3.3.3.3', 1, '3.3.3.3'],
    ['1.1.1.1, 2.2.2.2, 3.3.3.3', 2, '2.2.2.2'],
    ['1.1.1.1, 2.2.2.2, 3.3.3.3', 3, '1.1.1.1'],
    ['1.1.1.1, 2.2.2.2, 3.3.3.3', 4, PEER], // fewer hops than trusted proxies
    ['1.1.1.1, 2.2.2.2', 0, PEER], // no trusted hops: the peer
    [undefined, 1, PEER],
    ['', 1, PEER],
    ['1.1.1.1,,2.2.2.2, ,', 2, '1.1.1.1'], // empty hops do not count
    [',', 1, PEER],
    [' 2001:db8::1 ', 1, '2001:db8::1'],
    ['1.1.1.1, not-an-ip', 1, PEER],
    ['1.1.1.1,\t2.2.2.2\t', 1, '2.2.2.2'],
  ];
  for (const [xff, n, want] of cases) assert.equal(remoteIpFromXff(xff, n, PEER), want, `${JSON.stringify(xff)} n=${n}`);
});
