// `egressway agent`: local HTTP/CONNECT (15001) and SOCKS5 (15080) listeners that carry traffic to
// the bound waypoint over HBONE with this workload's certificate.
import { InvalidArgumentError, Option, type Command } from 'commander';
import { HTTP_POOL_DEFAULTS, KEEPALIVE_DEFAULTS, startAgent } from '../agent/agent.ts';
import { parseAddressOverrides } from '../agent/routes.ts';
import { createLogger } from '../telemetry/logger.ts';
import { collect, parseDuration, parsePort } from './args.ts';

interface AgentFlags {
  config: string[];
  cert: string;
  key: string;
  trustBundle: string;
  waypointAddress?: string[];
  listenAddress: string;
  httpPort: number;
  socksPort: number;
  passthrough?: boolean;
  /** `--no-proxy <list>`: commander files a `--no-*` option under its positive name, true when absent. */
  proxy: string | true;
  workload?: string;
  poolSize: number;
  poolIdleTimeout: number;
  keepaliveInterval: number;
  keepaliveTimeout: number;
  watch: boolean;
  logLevel: string;
}

export function registerAgent(program: Command): void {
  program.command('agent')
    .description('a node agent: HTTP proxy and SOCKS5 on loopback, HBONE (mTLS HTTP/2 CONNECT) to the waypoint')
    .requiredOption('-c, --config <paths...>', 'the mesh config the waypoint reads (which hosts bind to which waypoint); reloaded on change')
    .requiredOption('--cert <file>', "this workload's certificate (egressway certs issue --ns <ns> --sa <sa>); reloaded on change")
    .requiredOption('--key <file>', 'its private key')
    .requiredOption('--trust-bundle <file>', 'roots the waypoint certificate must chain to')
    .option('--waypoint-address <[ns/name=]host:port>', "the waypoint's HBONE address (repeatable); default: the Gateway's status.addresses, port 15008", collect)
    .option('--listen-address <ip>', 'address for the local listeners', '127.0.0.1')
    .option('--http-port <port>', 'HTTP/CONNECT proxy for HTTP_PROXY/HTTPS_PROXY', parsePort, 15001)
    .option('--socks-port <port>', 'SOCKS5 listener', parsePort, 15080)
    .option('--passthrough', 'send destinations that no waypoint serves direct instead of refusing them')
    .option('--no-proxy <list>', 'hosts the HTTP proxy dials direct (default: $NO_PROXY)')
    .option('--workload <name>', 'workload name for the waypoint\'s source_workload (sent as baggage)')
    .addOption(new Option('--pool-size <n>', 'HTTP_PROXY requests: kept-alive HBONE streams per destination; more concurrent requests wait for a free one')
      .argParser(parsePoolSize).default(HTTP_POOL_DEFAULTS.maxPerDestination))
    .addOption(new Option('--pool-idle-timeout <duration>', 'close a kept-alive HBONE stream idle this long (the waypoint\'s keep-alive, 65s, caps it)')
      .argParser(positiveDuration).default(HTTP_POOL_DEFAULTS.idleTimeoutMs, seconds(HTTP_POOL_DEFAULTS.idleTimeoutMs)))
    .addOption(new Option('--keepalive-interval <duration>', 'send an HTTP/2 PING on each waypoint connection this often')
      .argParser(positiveDuration).default(KEEPALIVE_DEFAULTS.intervalMs, seconds(KEEPALIVE_DEFAULTS.intervalMs)))
    .addOption(new Option('--keepalive-timeout <duration>', 'drop a waypoint connection, and its tunnels, after this long without a PING answer; longer than --keepalive-interval')
      .argParser(positiveDuration).default(KEEPALIVE_DEFAULTS.timeoutMs, seconds(KEEPALIVE_DEFAULTS.timeoutMs)))
    .option('--no-watch', 'do not reload when config files change')
    .option('--log-level <level>', 'debug | info | warn | error', 'info')
    .action(async (f: AgentFlags) => {
      if (f.keepaliveTimeout <= f.keepaliveInterval) {
        fail(`error: --keepalive-timeout (${seconds(f.keepaliveTimeout)}) must be longer than --keepalive-interval (${seconds(f.keepaliveInterval)}), which is how often it is checked; pass e.g. --keepalive-timeout ${seconds(2 * f.keepaliveInterval)}`);
      }
      const log = createLogger(f.logLevel);
      try {
        const a = await startAgent({
          configPaths: f.config, cert: f.cert, key: f.key, trustBundle: f.trustBundle,
          waypointAddresses: parseAddressOverrides(f.waypointAddress ?? []), listenAddress: f.listenAddress,
          httpPort: f.httpPort, socksPort: f.socksPort, passthrough: !!f.passthrough,
          noProxy: typeof f.proxy === 'string' ? f.proxy : process.env.NO_PROXY ?? process.env.no_proxy, workload: f.workload,
          httpPool: { maxPerDestination: f.poolSize, idleTimeoutMs: f.poolIdleTimeout },
          keepalive: { intervalMs: f.keepaliveInterval, timeoutMs: f.keepaliveTimeout },
          watch: f.watch, onLog: (level, msg) => log[level](msg),
        });
        log.info({ http: a.http, socks: a.socks, identity: a.identity }, `agent ${a.identity} — HTTP_PROXY=http://${a.http}, SOCKS5 socks5h://${a.socks}`);
        const stop = () => void a.close().then(() => process.exit(0));
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
        // SIGHUP reloads the config, as `egressway run` does (Node's default would kill the agent).
        process.on('SIGHUP', () => {
          log.info({ signal: 'SIGHUP' }, 'SIGHUP: reloading the config');
          a.config.reload().then((outcome) => {
            if (outcome === 'unchanged') log.info({ signal: 'SIGHUP' }, 'SIGHUP: config unchanged');
          }, (err: Error) => log.error(`config reload failed, still routing with the last good config: ${err.message}`));
        });
      } catch (err) {
        fail(`error: ${(err as Error).message}`);
      }
    });
}

// Bounded so that a typo (a duration, a byte count) is caught; ten thousand concurrent requests to
// one destination is far past what one agent carries.
const MAX_POOL_SIZE = 10_000;
// Node timers overflow past 2^31-1 ms (about 24.8 days) and then fire after 1 ms.
const MAX_DURATION_MS = 24 * 3600_000;

function parsePoolSize(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_POOL_SIZE) throw new InvalidArgumentError(`"${v}" is not a stream count; pass a whole number from 1 to ${MAX_POOL_SIZE} (default ${HTTP_POOL_DEFAULTS.maxPerDestination})`);
  return n;
}

function positiveDuration(v: string): number {
  const ms = parseDuration(v);
  if (ms <= 0 || ms > MAX_DURATION_MS) throw new InvalidArgumentError(`"${v}" is out of range; pass a duration above 0 and at most 24h (examples: 500ms, 30s, 2m)`);
  return ms;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
