// `egressway agent`: local HTTP/CONNECT (15001) and SOCKS5 (15080) listeners that carry traffic to
// the bound waypoint over HBONE with this workload's certificate.
import type { Command } from 'commander';
import { startAgent } from '../agent/agent.ts';
import { parseAddressOverrides } from '../agent/routes.ts';
import { createLogger } from '../telemetry/logger.ts';
import { collect, parsePort } from './args.ts';

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
  noProxy?: string;
  workload?: string;
  logLevel: string;
}

export function registerAgent(program: Command): void {
  program.command('agent')
    .description('a node agent: HTTP proxy and SOCKS5 on loopback, HBONE (mTLS HTTP/2 CONNECT) to the waypoint')
    .requiredOption('-c, --config <paths...>', 'the mesh config the waypoint reads (which hosts bind to which waypoint)')
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
    .option('--log-level <level>', 'debug | info | warn | error', 'info')
    .action(async (f: AgentFlags) => {
      const log = createLogger(f.logLevel);
      try {
        const a = await startAgent({
          configPaths: f.config, cert: f.cert, key: f.key, trustBundle: f.trustBundle,
          waypointAddresses: parseAddressOverrides(f.waypointAddress ?? []), listenAddress: f.listenAddress,
          httpPort: f.httpPort, socksPort: f.socksPort, passthrough: !!f.passthrough,
          noProxy: f.noProxy ?? process.env.NO_PROXY ?? process.env.no_proxy, workload: f.workload,
          onLog: (level, msg) => log[level](msg),
        });
        log.info({ http: a.http, socks: a.socks, identity: a.identity }, `agent ${a.identity} — HTTP_PROXY=http://${a.http}, SOCKS5 socks5h://${a.socks}`);
        const stop = () => void a.close().then(() => process.exit(0));
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      } catch (err) {
        process.stderr.write(`error: ${(err as Error).message}\n`);
        process.exit(1);
      }
    });
}
