// The parts of undici the data plane uses, each from its own file. undici's index also loads fetch,
// WebSocket, EventSource, the HTTP cache, the mock agent and their helpers: about 110 modules and
// 14 MB of RSS in every waypoint, for nothing used here. The classes are the very ones the index
// exports (CommonJS caches modules by file), so a later `import('undici')` (policy/undici-lazy.ts)
// shares them.
import { createRequire, Module } from 'node:module';
import type * as U from 'undici';

const requireCjs = createRequire(import.meta.url);

// undici's Client requires its HTTP/2 half (lib/dispatcher/client-h2.js) at load, and that requires
// node:http2: 9.6 MiB of RSS in every waypoint (issue 16), while most never speak HTTP/2 upstream.
// client.js calls the module's one export, connectH2(client, socket), only once ALPN picked h2. So the
// cache gets a stand-in that loads the real module on that first call. Nothing else requires the file.
const h2Path = requireCjs.resolve('undici/lib/dispatcher/client-h2.js');
if (!requireCjs.cache[h2Path]) {
  let connectH2: ((...args: unknown[]) => unknown) | undefined;
  const lazy = new Module(h2Path);
  lazy.filename = h2Path;
  lazy.loaded = true;
  lazy.exports = function connectH2Lazy(...args: unknown[]): unknown {
    if (!connectH2) {
      delete requireCjs.cache[h2Path];
      connectH2 = requireCjs(h2Path) as (...a: unknown[]) => unknown;
    }
    return connectH2(...args);
  };
  requireCjs.cache[h2Path] = lazy;
}

// The index also gives every dispatcher its convenience API (request, stream, pipeline, connect,
// upgrade: lib/api); mirror.ts calls pool.request(). Done here the same way, so the classes behave
// as the index's whichever module loads first.
const Dispatcher = requireCjs('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
Object.assign(Dispatcher.prototype, requireCjs('undici/lib/api/index.js'));

export const Pool = requireCjs('undici/lib/dispatcher/pool.js') as typeof U.Pool;
export type Pool = U.Pool;
export declare namespace Pool { type Options = U.Pool.Options }

export const Client = requireCjs('undici/lib/dispatcher/client.js') as typeof U.Client;
export type Client = U.Client;
export declare namespace Client { type Options = U.Client.Options }

export const buildConnector = requireCjs('undici/lib/core/connect.js') as typeof U.buildConnector;
export declare namespace buildConnector { type connector = U.buildConnector.connector }

export const { headerNameToString } = requireCjs('undici/lib/core/util.js') as typeof U.util;
