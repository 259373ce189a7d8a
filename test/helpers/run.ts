// One import for tests that drive the product from outside: the CLI as a child process, curl as the
// client, and temporary directories for the config they share.

export { curl, hasCurl } from './curl.ts';
export type { CurlOptions, CurlResult } from './curl.ts';
export { tmpDir, writeConfig } from './tmp.ts';
export type { TmpDir } from './tmp.ts';
export { REPO_ROOT, parseListeners, startWaypoint } from './waypoint.ts';
export type { ListenerAddress, LogLine, LogPredicate, Waypoint, WaypointOptions } from './waypoint.ts';
