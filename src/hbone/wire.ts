// Starts the waypoint's HBONE listener and keeps its certificates current: from files reloaded on
// change, or from an IdentitySource (istiod's CA) that rotates them.
import type { InboundTunnel } from '../dataplane/proxy-listener.ts';
import type { IdentitySource } from '../identity/source.ts';
import type { Logger } from '../telemetry/logger.ts';
import { HboneListener } from './listener.ts';
import { readTlsMaterial, TlsFileWatcher, type TlsMaterial } from './tls-files.ts';

export interface HboneOptions {
  /** 15008 in Istio; 0 picks a free port. */
  readonly port: number;
  /** The waypoint's certificate (spiffe://<td>/ns/<gw-ns>/sa/<gw-name>) and key, PEM files. */
  readonly cert?: string;
  readonly key?: string;
  /** Roots that client certificates must chain to; one file, several roots allowed. */
  readonly trustBundle?: string;
  /** Instead of the three files: a source that supplies and rotates them (istiod's CA). */
  readonly identity?: IdentitySource;
  /** Tests shorten these; Istio uses 10 s / 20 s. */
  readonly keepaliveIntervalMs?: number;
  readonly keepaliveTimeoutMs?: number;
  /** Connection cap, stream cap per connection and idle timeout (see HboneListenerOptions). */
  readonly maxConnections?: number;
  readonly maxConcurrentStreams?: number;
  readonly idleTimeoutMs?: number;
  readonly onLimit?: (kind: 'hbone_max_connections' | 'hbone_idle_timeout') => void;
  /** SO_REUSEPORT: one listener per data-plane worker on the same port (`run --concurrency`). */
  readonly reusePort?: boolean;
}

export interface RunningHbone {
  readonly address: string;
  readonly listener: HboneListener;
  close(graceMs: number): Promise<void>;
}

export async function startHbone(o: HboneOptions, host: string, accept: (t: InboundTunnel) => void, log: Logger): Promise<RunningHbone> {
  const identity = o.identity ?? await fileIdentity(o, log);
  const material = identity.current;
  const listener = new HboneListener({
    tls: material, accept, keepaliveIntervalMs: o.keepaliveIntervalMs, keepaliveTimeoutMs: o.keepaliveTimeoutMs,
    maxConnections: o.maxConnections, maxConcurrentStreams: o.maxConcurrentStreams, idleTimeoutMs: o.idleTimeoutMs, onLimit: o.onLimit,
  });
  let a;
  try {
    a = await listener.listen(o.port, host, o.reusePort);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot listen for hbone: ${e.code === 'EADDRINUSE' ? `port ${o.port} is already in use; pass --hbone-port <port>` : e.message}`);
  }
  identity.onChange((m) => listener.setTls(m));
  return {
    address: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
    listener,
    async close(graceMs) {
      // An identity passed in belongs to the caller, who closes it.
      if (!o.identity) identity.close();
      await listener.close(graceMs);
    },
  };
}

/** --hbone-cert/--hbone-key/--trust-bundle as an IdentitySource: re-read when a file changes. */
async function fileIdentity(o: HboneOptions, log: Logger): Promise<IdentitySource> {
  const paths = { cert: o.cert ?? '', key: o.key ?? '', ca: o.trustBundle ?? '' };
  const material = await readTlsMaterial(paths).catch((err: Error) => {
    throw new Error(`HBONE listener: ${err.message}; see \`egressway certs --help\``);
  });
  const listeners: ((m: TlsMaterial) => void)[] = [];
  const watcher = new TlsFileWatcher(paths, material, {
    onChange: (m) => {
      for (const l of listeners) l(m);
      log.info({ cert: o.cert }, 'HBONE certificates reloaded; open tunnels keep their connections');
    },
    onError: (err) => log.warn(`HBONE certificate reload skipped, still using the previous set: ${err.message}`),
  });
  return {
    get current() {
      return watcher.current;
    },
    onChange: (l) => void listeners.push(l),
    close: () => watcher.close(),
  };
}
