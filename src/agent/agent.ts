// `egressway agent`: a small ztunnel for machines and pods that cannot run one. It holds one
// workload identity, learns from the mesh config which destinations bind to which waypoint, and
// carries local clients' connections there over pooled HBONE.
import type { AddressInfo } from 'node:net';
import { HbonePool } from '../hbone/client-pool.ts';
import { readTlsMaterial, TlsFileWatcher } from '../hbone/tls-files.ts';
import { parseSpiffe } from '../model/identity.ts';
import { AgentConfig, type AgentLog } from './config-source.ts';
import { AgentHttpProxy } from './http-proxy.ts';
import type { HboneHttpPools, HttpPoolOptions } from './http-pool.ts';
import { parseNoProxy } from './no-proxy.ts';
import type { AddressOverrides } from './routes.ts';
import { AgentSocks5 } from './socks5.ts';

export interface AgentOptions {
  readonly configPaths: readonly string[];
  readonly cert: string;
  readonly key: string;
  readonly trustBundle: string;
  readonly waypointAddresses: AddressOverrides;
  readonly listenAddress: string;
  /** 15001 and 15080, as ztunnel's; 0 picks a free port; -1 turns the listener off. */
  readonly httpPort: number;
  readonly socksPort: number;
  readonly passthrough: boolean;
  /** NO_PROXY text (the flag, else the environment). */
  readonly noProxy?: string;
  /** Sent as baggage k8s.deployment.name so waypoint metrics get a source_workload. */
  readonly workload?: string;
  readonly onLog?: AgentLog;
  /** HTTP/2 PING on each pooled waypoint connection; one unanswered for timeoutMs (> intervalMs) is dropped. */
  readonly keepalive?: KeepaliveOptions;
  /** Kept-alive HBONE streams of the HTTP proxy: per-destination cap and idle timeout. */
  readonly httpPool?: HttpPoolOptions;
  /** Reload when the config files change (default true, as `egressway agent` without --no-watch). */
  readonly watch?: boolean;
}

export interface KeepaliveOptions {
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

/** Istio's waypoint and ztunnel settings: a PING every 10 s, dead after 20 s without an answer. */
export const KEEPALIVE_DEFAULTS: KeepaliveOptions = { intervalMs: 10_000, timeoutMs: 20_000 };
export { HTTP_POOL_DEFAULTS } from './http-pool.ts';

export interface RunningAgent {
  readonly http?: string;
  readonly socks?: string;
  readonly identity: string;
  readonly pool: HbonePool;
  /** The HTTP proxy's kept-alive HBONE streams (absent with the HTTP proxy off). */
  readonly httpPools?: HboneHttpPools;
  /** The live config: reload() applies the files now, as the watcher does after a change. */
  readonly config: AgentConfig;
  close(): Promise<void>;
}

export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const keepalive = o.keepalive ?? KEEPALIVE_DEFAULTS;
  // Each check looks back one interval: a timeout within it would drop healthy connections.
  if (keepalive.timeoutMs <= keepalive.intervalMs) throw new Error(`keepalive timeout (${keepalive.timeoutMs} ms) must be longer than its interval (${keepalive.intervalMs} ms)`);
  const paths = { cert: o.cert, key: o.key, ca: o.trustBundle };
  const tls = await readTlsMaterial(paths);
  const pool = new HbonePool(tls, keepalive);
  const id = parseSpiffe(pool.identity);
  if (!id) throw new Error(`${o.cert} has no spiffe://<td>/ns/<ns>/sa/<sa> URI SAN; issue one with \`egressway certs issue --ns <ns> --sa <sa>\``);
  const config = await AgentConfig.load(o.configPaths, o.waypointAddresses, o.onLog);
  const baggage = `k8s.namespace.name=${id.namespace}${o.workload ? `,k8s.deployment.name=${o.workload}` : ''}`;
  const deps = {
    routes: () => config.current(), pool, passthrough: o.passthrough, baggage,
    trustDomain: () => parseSpiffe(pool.identity)?.trustDomain ?? id.trustDomain,
  };
  const watcher = new TlsFileWatcher(paths, tls, {
    onChange: (m) => {
      pool.setTls(m);
      o.onLog?.('info', `certificates reloaded (${pool.identity}); pooled HBONE connections drain, open tunnels continue`);
    },
    onError: (err) => o.onLog?.('warn', `certificate reload skipped, still using the previous set: ${err.message}`),
  });
  const closers: (() => Promise<void>)[] = [];
  const fmt = (a: AddressInfo) => (a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
  let http: string | undefined;
  let socks: string | undefined;
  let httpPools: HboneHttpPools | undefined;
  try {
    if (o.httpPort >= 0) {
      const h = new AgentHttpProxy(deps, parseNoProxy(o.noProxy), o.httpPool);
      httpPools = h.pools;
      http = fmt(await h.listen(o.httpPort, o.listenAddress));
      closers.push(() => h.close());
    }
    if (o.socksPort >= 0) {
      const s = new AgentSocks5(deps);
      socks = fmt(await s.listen(o.socksPort, o.listenAddress));
      closers.push(() => s.close());
    }
    if (o.watch ?? true) await config.watch();
  } catch (err) {
    watcher.close();
    config.close();
    await Promise.allSettled(closers.map((c) => c()));
    throw err;
  }
  return {
    http, socks, identity: pool.identity, pool, httpPools, config,
    async close() {
      watcher.close();
      config.close();
      pool.close();
      await Promise.allSettled(closers.map((c) => c()));
    },
  };
}
