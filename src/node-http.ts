// node:http by require, not by name. Node's ES module facade for a builtin reads every export once,
// getters included, and node:http's WebSocket, CloseEvent and MessageEvent getters load Node's
// bundled undici with node:http2, zlib, worker_threads, crypto and web streams: 13 MiB of RSS and
// 70 modules in each thread that writes `import { createServer } from 'node:http'` (issue 16).
// process.getBuiltinModule returns the CommonJS exports and leaves the getters alone. Types still
// come from `import type ... from 'node:http'`, which loads nothing.
import type * as Http from 'node:http';

const http: typeof Http = process.getBuiltinModule('node:http');

export const { createServer, request, ServerResponse, STATUS_CODES } = http;
