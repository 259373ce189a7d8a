// `egressway run`: start the waypoint on a config folder and serve until SIGTERM; SIGHUP reloads.
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { checkCidr } from '../dataplane/ssrf.ts';
import { LOOPBACK_CIDRS } from '../dataplane/proxy-protocol-listener.ts';
import { formatDiagnostic } from '../model/diagnostic.ts';
import { startWaypoint, StartupError, type ConfigSource, type WaypointOptions } from '../server.ts';
import { Output } from '../workers/output.ts';
import type { AccessLogFormat } from '../telemetry/access-log.ts';
import { createLogger } from '../telemetry/logger.ts';
import type { OutboundTrafficPolicy } from '../model/snapshot.ts';
import { collect, oneOf, parseDuration, parsePort, parseWaypointRef, durationOption } from './args.ts';
import { DEFAULT_LIMITS } from '../dataplane/downstream-guard.ts';
import { DEFAULT_DNS_MAX_HOSTS } from '../dataplane/resolver.ts';
import { meshNumTrustedProxies, meshPathNormalization, readMeshConfig, type MeshConfig } from './mesh-config.ts';
import type { CompileOptions } from '../compile/compile.ts';
import type { Logger } from '../telemetry/logger.ts';
import { addIstiodCaOptions, istiodCaOptions, type IstiodCaFlags } from './istiod-ca-flags.ts';

interface RunFlags extends IstiodCaFlags {
  config?: string[];
  kubernetes: boolean;
  kubeconfig?: string;
  identifyPodsByIp?: true | string;
  waypoint?: string;
  outboundTrafficPolicy?: OutboundTrafficPolicy;
  meshConfig?: string;
  listenAddress: string;
  adminAddress: string;
  proxyPort: number;
  adminPort: number;
  statusPort: number;
  statsPort: number;
  dnsServer?: string[];
  dnsRefreshRate: number;
  connectTimeout: number;
  accessLog: AccessLogFormat;
  otlpEndpoint?: string;
  proxyTlsCert?: string;
  allowCidr?: string[];
  denyCidr?: string[];
  proxyTlsKey?: string;
  clientCa?: string;
  hbonePort: number;
  proxyProtocolPort?: number;
  proxyProtocolTrustedCidr: string[];
  proxyProtocolHeaderTimeout: number;
  proxyProtocolMaxConnections: number;
  secretsDir?: string;
  hboneCert?: string;
  hboneKey?: string;
  trustBundle?: string;
  numTrustedProxies?: number;
  drainDuration: number;
  requestHeadersTimeout: number;
  idleTimeout: number;
  streamIdleTimeout: number;
  tunnelIdleTimeout: number;
  maxConnections: number;
  overloadHeapThreshold: number;
  dnsCacheMaxHosts: number;
  hboneMaxConcurrentStreams: number;
  watch: boolean;
  releaseMemory: boolean;
  logLevel: string;
  concurrency?: number;
  maxSemiSpaceSize?: number;
}

export function registerRun(program: Command): void {
  const cmd = program.command('run')
    .description('run the waypoint on a folder or files of YAML')
    .option('-c, --config <paths...>', 'config files or directories (YAML/JSON, searched recursively)')
    .option('--kubernetes', 'read the config from the Kubernetes API server (list+watch) instead of files', false)
    .option('--kubeconfig <file>', 'with --kubernetes: kubeconfig to use (default: in-cluster, else $KUBECONFIG or ~/.kube/config)')
    .option('--identify-pods-by-ip [use]', 'with --kubernetes: name plaintext (non-mTLS) clients by their pod IP in telemetry (connection_security_policy stays "none"); "=namespaces" also lets from.source.namespaces match them (never principals)')
    .option('--waypoint <namespace/name>', 'which istio-waypoint Gateway this process is (default: the only one)', parseWaypointRef)
    .option('--outbound-traffic-policy <mode>', 'REGISTRY_ONLY refuses unknown hosts; ALLOW_ANY passes them through', oneOf(['REGISTRY_ONLY', 'ALLOW_ANY'] as const))
    .option('--mesh-config <file>', 'Istio MeshConfig YAML (outboundTrafficPolicy, serviceEntryVisibility, extensionProviders, pathNormalization, gatewayTopology, defaultHttpRetryPolicy)')
    .option('--listen-address <ip>', 'address for the proxy, status and stats listeners', '127.0.0.1')
    .option('--admin-address <ip>', 'address for the admin listener', '127.0.0.1')
    .option('--proxy-port <port>', 'HTTP/CONNECT proxy listener', parsePort, 15001)
    .option('--admin-port <port>', 'admin: /config_dump, /healthz/ready, /stats/prometheus', parsePort, 15000)
    .option('--status-port <port>', 'readiness probe: /healthz/ready', parsePort, 15021)
    .option('--stats-port <port>', 'Prometheus scrape: /stats/prometheus', parsePort, 15020)
    .option('--dns-server <host:port>', 'query this DNS server (repeatable) and honour record TTLs; default: the system resolver', collect)
    .addOption(durationOption('--dns-refresh-rate <duration>', 'how long system-resolver answers are cached', 60_000))
    .addOption(durationOption('--connect-timeout <duration>', 'upstream TCP connect timeout', 10_000))
    .option('--allow-cidr <cidr>', 'let the SSRF guard dial this range even for DNS-resolved or request-supplied hosts (repeatable)', cidrArg, [])
    .option('--deny-cidr <cidr>', 'never dial this range, whatever the ServiceEntry says (repeatable)', cidrArg, [])
    .option('--proxy-tls-cert <file>', 'serve the proxy listener over TLS with this certificate (PEM)')
    .option('--proxy-tls-key <file>', 'private key for --proxy-tls-cert (PEM)')
    .option('--client-ca <file>', 'require proxy clients to present a certificate from this CA; its SPIFFE ID is the source identity')
    .option('--hbone-port <port>', 'HBONE listener (mTLS HTTP/2 CONNECT from agents and ztunnel); on when --hbone-cert is set', parsePort, 15008)
    .option('--hbone-cert <file>', "the waypoint's certificate, spiffe://<td>/ns/<gw-ns>/sa/<gw-name> (egressway certs issue --waypoint); reloaded on change")
    .option('--hbone-key <file>', 'private key for --hbone-cert')
    .option('--trust-bundle <file>', 'roots HBONE client certificates must chain to (several allowed, for rotation)')
    .option('--proxy-protocol-port <port>', 'sandwich listener: TCP from ztunnel led by a PROXY v2 header (GatewayClass ambient.istio.io/waypoint-inbound-binding: PROXY/<port>, e.g. 15088); off by default', parsePort)
    .option('--proxy-protocol-trusted-cidr <cidr>', 'peers allowed to send PROXY headers besides loopback: the node\'s ztunnel (repeatable)', cidrArg, [])
    .addOption(durationOption('--proxy-protocol-header-timeout <duration>', 'close a connection whose PROXY header is not complete by then', 15_000))
    .option('--proxy-protocol-max-connections <n>', 'open connections on the PROXY listener; more are closed at once', parseMaxConnections, 10_000)
    .option('--num-trusted-proxies <n>', 'X-Forwarded-For hops to trust for remoteIpBlocks / remote.ip (meshConfig gatewayTopology.numTrustedProxies)', parseCount)
    .option('--secrets-dir <dir>', 'DestinationRule credentialName Secrets, laid out as <dir>/<namespace>/<name>/tls.crt, tls.key, ca.crt (--config only; --kubernetes reads the Secrets)')
    .option('--access-log <format>', 'json | text | off', oneOf(['json', 'text', 'off'] as const), 'json')
    .option('--otlp-endpoint <url>', 'export one span per request or tunnel over OTLP/HTTP (JSON) to this collector, e.g. http://127.0.0.1:4318', httpUrl)
    .addOption(durationOption('--drain-duration <duration>', 'on SIGTERM, how long in-flight requests may finish', 5_000))
    .addOption(durationOption('--request-headers-timeout <duration>', 'a request head must arrive within this of its first byte, else 408 (0: off)', DEFAULT_LIMITS.requestHeadersTimeoutMs))
    .addOption(durationOption('--idle-timeout <duration>', 'close a downstream connection (proxy or HBONE) with no request in flight after this (0: off)', DEFAULT_LIMITS.idleTimeoutMs))
    .addOption(durationOption('--stream-idle-timeout <duration>', 'no byte either way on a request in flight for this long: 408 SI, or a reset (0: off)', DEFAULT_LIMITS.streamIdleTimeoutMs))
    .addOption(durationOption('--tunnel-idle-timeout <duration>', 'close a CONNECT, HBONE or Upgrade tunnel with no byte either way for this long (0: off)', DEFAULT_LIMITS.tunnelIdleTimeoutMs))
    .option('--max-connections <n>', 'open connections per listener (proxy, HBONE); more are refused with 503 OM or closed (0: no cap)', countArg('a connection count', 0, 10_000_000, DEFAULT_LIMITS.maxConnections), DEFAULT_LIMITS.maxConnections)
    .option('--overload-heap-threshold <percent>', "refuse new requests with 503 OM while the JS heap is above this % of node's heap limit (0: off)", countArg('a percentage', 0, 100, 95), 95)
    .option('--dns-cache-max-hosts <n>', 'request-chosen host names kept in the DNS cache (and connection pools per cluster), least recently used out', countArg('a host count', 1, 10_000_000, DEFAULT_DNS_MAX_HOSTS), DEFAULT_DNS_MAX_HOSTS)
    .option('--hbone-max-concurrent-streams <n>', 'streams per HBONE connection (SETTINGS_MAX_CONCURRENT_STREAMS)', countArg('a stream count', 1, 100_000, 100), 100)
    .option('--no-watch', 'do not reload when config files change')
    .option('--no-release-memory', 'keep the memory a config load used instead of giving it back with one full garbage collection a few seconds after each load (a pause of about 40 ms of CPU, 120 ms with 3,000 resources)')
    .option('--log-level <level>', 'debug | info | warn | error', 'info')
    .option('--concurrency <n>', 'event loops serving traffic (worker threads sharing the listeners); 1 runs everything in one thread (default: $EGRESSWAY_CONCURRENCY, else the cores available)', countArg('a worker count', 1, 256, availableParallelism()))
    .option('--max-semi-space-size <MiB>', `each worker thread's largest V8 semi-space (young generation: two of them), as node's flag of that name; under load V8 grows it to 32 MiB per thread; 0: V8's default (default: ${DEFAULT_WORKER_SEMI_SPACE_MB}, or node's own --max-semi-space-size when given; --concurrency 1 takes node's flag only)`, countArg('a size in MiB', 0, 1024, DEFAULT_WORKER_SEMI_SPACE_MB));
  addIstiodCaOptions(cmd).action(async (flags: RunFlags) => run(flags));
}

/**
 * A worker thread's semi-space cap (MiB) unless --max-semi-space-size says otherwise. V8 grows each
 * thread's young generation to 64 MiB of committed new space under load (two 32 MiB semi-spaces);
 * capped at 8 (16 MiB), the peak RSS at saturation fell by 40-60 MiB per worker at the same CPU per
 * request (bench/README.md, "Young generation").
 */
export const DEFAULT_WORKER_SEMI_SPACE_MB = 8;

/**
 * The semi-space the workers get: the flag (0: V8's default); without it, node's own
 * --max-semi-space-size (command line or NODE_OPTIONS) if given, which every worker inherits; else
 * DEFAULT_WORKER_SEMI_SPACE_MB. Undefined: no limit is set on the worker.
 */
export function workerSemiSpaceMb(flag: number | undefined, nodeFlags: string): number | undefined {
  if (flag !== undefined) return flag === 0 ? undefined : flag;
  if (/(^|\s)--max[-_]semi[-_]space[-_]size\b/.test(nodeFlags)) return undefined;
  return DEFAULT_WORKER_SEMI_SPACE_MB;
}

/** EGRESSWAY_CONCURRENCY (the test suite sets 1), else one event loop per available core. */
function defaultConcurrency(): number {
  const env = process.env.EGRESSWAY_CONCURRENCY;
  if (env === undefined || env === '') return availableParallelism();
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1 || n > 256) fail(`error: EGRESSWAY_CONCURRENCY="${env}" is not a worker count; set a whole number from 1 to 256, or unset it`);
  return n;
}

function portClash(f: RunFlags): string | undefined {
  const ports: [string, number, string][] = [
    ['--proxy-port', f.proxyPort, f.listenAddress], ['--admin-port', f.adminPort, f.adminAddress],
    ['--status-port', f.statusPort, f.listenAddress], ['--stats-port', f.statsPort, f.listenAddress],
    ...(f.hboneCert || f.caAddress ? [['--hbone-port', f.hbonePort, f.listenAddress] as [string, number, string]] : []),
    ...(f.proxyProtocolPort !== undefined ? [['--proxy-protocol-port', f.proxyProtocolPort, f.listenAddress] as [string, number, string]] : []),
  ];
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      if (ports[i]![1] !== 0 && ports[i]![1] === ports[j]![1]) {
        return `${ports[i]![0]} and ${ports[j]![0]} are both ${ports[i]![1]}; give each listener its own port`;
      }
    }
  }
  return undefined;
}

async function run(flags: RunFlags): Promise<void> {
  const f = { ...flags, concurrency: flags.concurrency ?? defaultConcurrency() };
  // With workers, every stdout line goes through one writer (workers/output.ts), this thread's log too.
  const out = f.concurrency > 1 ? new Output((err) => process.stderr.write(`egressway: writing to stdout failed (${err.message}); log and access-log lines are dropped from now on\n`)) : undefined;
  const logger = createLogger(f.logLevel, out && { write: (s: string) => out.write(s) });
  const exit = (code: number) => void (out ? out.end() : Promise.resolve()).then(() => process.exit(code));
  if (!f.kubernetes && !f.config?.length) fail('error: give the config: --config <paths...> (files or directories), or --kubernetes to read it from the API server');
  if (f.kubernetes && f.config?.length) fail('error: --config and --kubernetes are two sources; choose one');
  if (f.kubeconfig && !f.kubernetes) fail('error: --kubeconfig only applies with --kubernetes');
  if (f.identifyPodsByIp !== undefined && !f.kubernetes) fail('error: --identify-pods-by-ip only applies with --kubernetes (it looks pods up through the API server)');
  if (f.identifyPodsByIp !== undefined && f.identifyPodsByIp !== true && f.identifyPodsByIp !== 'telemetry' && f.identifyPodsByIp !== 'namespaces') fail(`error: --identify-pods-by-ip=${f.identifyPodsByIp}: use it bare (telemetry only) or =namespaces`);
  if (f.secretsDir && f.kubernetes) fail('error: --secrets-dir is for --config; with --kubernetes, credentialName Secrets are read from the API server (drop --secrets-dir)');
  const clash = portClash(f);
  if (clash) fail(`error: port clash: ${clash}`);
  if (f.maxSemiSpaceSize !== undefined && f.concurrency === 1) {
    logger.warn({ maxSemiSpaceSize: f.maxSemiSpaceSize }, '--max-semi-space-size sizes worker threads, and --concurrency 1 runs none: the one event loop keeps V8\'s young generation; start node with --max-semi-space-size=N (NODE_OPTIONS) to size it');
  }
  let mesh;
  try {
    mesh = f.meshConfig ? await readMeshConfig(f.meshConfig) : {};
  } catch (err) {
    fail(`error: ${(err as Error).message}`);
  }
  // Signal handlers go in before anything listens, so a SIGTERM during startup is clean too.
  let running: { stop(graceMs: number): Promise<void>; source: ConfigSource } | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    logger.info({ signal }, `${signal}: draining for up to ${f.drainDuration} ms, then exiting`);
    stopping = true;
    if (!running) return exit(0);
    running.stop(f.drainDuration).then(() => exit(0), () => exit(0));
  };
  // A worker that keeps dying (workers/pool.ts): stop the rest at once and exit 70, never 0.
  const fatal = () => {
    if (stopping) return;
    stopping = true;
    void (running ? running.stop(0) : Promise.resolve()).finally(() => exit(70));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // SIGHUP reloads, as nginx does (Node's default would kill the process): --mesh-config and the
  // config paths are read again; a broken file is refused and the last good config keeps serving.
  process.on('SIGHUP', () => {
    if (!running) return logger.warn({ signal: 'SIGHUP' }, 'SIGHUP during startup: ignored; the config is being loaded');
    void reloadOnHup(f, running.source, logger);
  });
  let proxyTls;
  let istiodCa;
  try {
    istiodCa = istiodCaOptions(f);
  } catch (err) {
    fail(`error: ${(err as Error).message}`);
  }
  const hbone = istiodCa ? { port: f.hbonePort } : f.hboneCert || f.hboneKey || f.trustBundle
    ? { port: f.hbonePort, cert: f.hboneCert ?? '', key: f.hboneKey ?? '', trustBundle: f.trustBundle ?? '' } : undefined;
  if (hbone && !istiodCa && (!hbone.cert || !hbone.key || !hbone.trustBundle)) fail('error: --hbone-cert, --hbone-key and --trust-bundle go together (make them with `egressway certs init` and `certs issue --waypoint ns/name`)');
  if (f.proxyProtocolPort === undefined && f.proxyProtocolTrustedCidr.length > 0) fail('error: --proxy-protocol-trusted-cidr needs --proxy-protocol-port <port> (the sandwich listener is off without it)');
  const proxyProtocol = f.proxyProtocolPort === undefined ? undefined : {
    port: f.proxyProtocolPort, trustedCidrs: [...LOOPBACK_CIDRS, ...f.proxyProtocolTrustedCidr],
    headerTimeoutMs: f.proxyProtocolHeaderTimeout, maxConnections: f.proxyProtocolMaxConnections,
  };
  try {
    proxyTls = await readProxyTls(f);
  } catch (err) {
    fail(`error: ${(err as Error).message}`);
  }
  try {
    const options: WaypointOptions = {
      configPaths: f.config ?? [],
      kubernetes: f.kubernetes ? {
        kubeconfig: f.kubeconfig,
        ...(f.identifyPodsByIp !== undefined ? { identifyPodsByIp: f.identifyPodsByIp === 'namespaces' ? 'namespaces' as const : 'telemetry' as const } : {}),
      } : undefined,
      compile: compileOptions(f, mesh),
      listenAddress: f.listenAddress, adminAddress: f.adminAddress,
      ports: { proxy: f.proxyPort, admin: f.adminPort, status: f.statusPort, stats: f.statsPort },
      dnsServers: f.dnsServer, dnsRefreshMs: f.dnsRefreshRate, connectTimeoutMs: f.connectTimeout,
      accessLog: f.accessLog, otlpEndpoint: f.otlpEndpoint, watch: f.watch, releaseMemory: f.releaseMemory, logger, proxyTls, hbone, proxyProtocol, istiodCa,
      dialPolicy: { allowCidrs: f.allowCidr, denyCidrs: f.denyCidr }, secretsDir: f.secretsDir,
      limits: {
        requestHeadersTimeoutMs: f.requestHeadersTimeout, idleTimeoutMs: f.idleTimeout, streamIdleTimeoutMs: f.streamIdleTimeout,
        tunnelIdleTimeoutMs: f.tunnelIdleTimeout, maxConnections: f.maxConnections,
      },
      overloadHeapFraction: f.overloadHeapThreshold / 100, dnsMaxHosts: f.dnsCacheMaxHosts, hboneMaxConcurrentStreams: f.hboneMaxConcurrentStreams,
    };
    const wp = out ? await startWorkers(options, f, out, fatal) : await startWaypoint(options);
    running = wp;
    const snap = wp.store.current();
    const l = wp.listeners;
    logger.info({ listeners: wp.listeners, waypoint: `${snap.waypoint.namespace}/${snap.waypoint.name}`, concurrency: f.concurrency }, 'listening');
    logger.info(`waypoint ${snap.waypoint.namespace}/${snap.waypoint.name} — proxy http://${l.proxy} (HTTP_PROXY)${l.hbone ? `, HBONE ${l.hbone}` : ''}${l.proxyProtocol ? `, PROXY protocol ${l.proxyProtocol}` : ''}, admin http://${l.admin}/config_dump, readiness http://${l.status}/healthz/ready, metrics http://${l.stats}/stats/prometheus`);
  } catch (err) {
    if (err instanceof StartupError) {
      for (const d of err.diagnostics) if (d.level !== 'info') process.stderr.write(`${formatDiagnostic(d)}\n`);
      process.stderr.write(`error: ${err.message}\n`);
      return exit(1); // after the log lines queued for stdout (--concurrency > 1)
    }
    throw err;
  }
}

/** N worker threads behind this one (workers/primary.ts); the primary module loads only then. */
async function startWorkers(options: WaypointOptions, f: RunFlags & { concurrency: number }, out: Output, onFatal: () => void) {
  const { startPrimary } = await import('../workers/primary.ts');
  const testHooks = process.env.EGRESSWAY_TEST_HOOKS === '1';
  const maxSemiSpaceMb = workerSemiSpaceMb(f.maxSemiSpaceSize, [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' '));
  const wp = await startPrimary(options, { concurrency: f.concurrency, maxSemiSpaceMb, logLevel: f.logLevel, out: (s) => out.write(s), outDropped: () => out.dropped, testHooks, onFatal });
  // Tests of the restart path: SIGUSR2 makes worker 0 throw, as a bug would.
  if (testHooks) process.on('SIGUSR2', () => wp.crashWorker(0));
  return wp;
}

/** Flags win over --mesh-config, which wins over Istio's defaults. */
function compileOptions(f: RunFlags, mesh: MeshConfig): CompileOptions {
  return {
    waypoint: f.waypoint,
    // With --kubernetes the istio-system/istio ConfigMap fills what flags and --mesh-config leave out.
    outboundTrafficPolicy: f.outboundTrafficPolicy ?? mesh.outboundTrafficPolicy?.mode ?? (f.kubernetes ? undefined : 'REGISTRY_ONLY'),
    serviceEntryVisibility: mesh.serviceEntryVisibility,
    extensionProviders: mesh.extensionProviders,
    numTrustedProxies: f.numTrustedProxies ?? meshNumTrustedProxies(mesh) ?? (f.kubernetes ? undefined : 0),
    pathNormalization: mesh.pathNormalization || !f.kubernetes ? meshPathNormalization(mesh) : undefined,
    defaultVirtualServiceExportTo: mesh.defaultVirtualServiceExportTo,
    defaultDestinationRuleExportTo: mesh.defaultDestinationRuleExportTo,
    defaultHttpRetryPolicy: mesh.defaultHttpRetryPolicy,
  };
}

async function reloadOnHup(f: RunFlags, source: ConfigSource, logger: Logger): Promise<void> {
  logger.info({ signal: 'SIGHUP' }, 'SIGHUP: reloading the config');
  if (f.meshConfig && source.setOptions) {
    try {
      source.setOptions(compileOptions(f, await readMeshConfig(f.meshConfig)));
    } catch (err) {
      logger.error({ signal: 'SIGHUP' }, `SIGHUP: ${(err as Error).message}; still serving the last good config`);
      return;
    }
  }
  const r = await source.reload();
  if (r.ok && !r.changed) logger.info({ signal: 'SIGHUP', version: r.version }, `SIGHUP: config unchanged (snapshot ${r.version})`);
}

async function readProxyTls(f: RunFlags): Promise<{ cert: string; key: string; ca?: string } | undefined> {
  if (!f.proxyTlsCert && !f.proxyTlsKey && !f.clientCa) return undefined;
  if (!f.proxyTlsCert || !f.proxyTlsKey) throw new Error('--proxy-tls-cert and --proxy-tls-key go together (and --client-ca needs both)');
  const read = async (flag: string, file: string) => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return {
    cert: await read('--proxy-tls-cert', f.proxyTlsCert),
    key: await read('--proxy-tls-key', f.proxyTlsKey),
    ca: f.clientCa ? await read('--client-ca', f.clientCa) : undefined,
  };
}

function httpUrl(v: string): string {
  let u: URL | undefined;
  try {
    u = new URL(v);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new InvalidArgumentError(`"${v}" is not an http(s) URL (example: http://127.0.0.1:4318)`);
  return v;
}

function parseCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new InvalidArgumentError(`"${v}" is not a hop count (0-64)`);
  return n;
}

function countArg(what: string, min: number, max: number, def: number): (v: string) => number {
  return (v) => {
    const n = Number(v.trim().replace(/%$/, ''));
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`"${v}" is not ${what}; pass a whole number from ${min} to ${max} (default ${def})`);
    return n;
  };
}

function parseMaxConnections(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new InvalidArgumentError(`"${v}" is not a connection count; pass a whole number from 1 to 1000000 (default 10000)`);
  return n;
}

function cidrArg(v: string, prev: string[] = []): string[] {
  const err = checkCidr(v);
  if (err) throw new InvalidArgumentError(`${err} (examples: 10.0.0.0/8, 127.0.0.1, fd00::/8)`);
  return [...prev, v];
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
