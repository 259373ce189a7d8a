// The servers of a bench: the upstream, the generated waypoint config (a waypoint Gateway and STATIC
// ServiceEntries on 127.0.0.1, so nothing resolves DNS), and the `egressway` processes started from
// the checkout under test.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO, type CommonOptions } from './run.ts';
import { jsonLines, startServer, type Server } from './processes.ts';

/** The upstream's host name in every bench config; the upstream itself ignores Host. */
export const HOST = 'bench.upstream.test';
export const NAMESPACE = 'istio-egress';
export const WAYPOINT = 'waypoint';

export const GATEWAY_YAML = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${WAYPOINT}, namespace: ${NAMESPACE}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`;

/** bench/upstream-server.ts; `extra` adds its flags (--tls-cert, --tls-key). */
export function startUpstream(runDir: string, extra: readonly string[] = []): Promise<Server> {
  return startServer('upstream', [join(REPO, 'bench/upstream-server.ts'), ...extra], runDir);
}

/** The query that makes the upstream answer with `size` bytes; '' for its small default body. */
export function sizeQuery(size: number | undefined): string {
  return size === undefined ? '' : `?size=${size}`;
}

export interface EntrySpec {
  readonly name: string;
  readonly host: string;
  /** The service port clients address. */
  readonly port: number | string;
  /** Where the waypoint dials on 127.0.0.1; default: `port`. */
  readonly targetPort?: number | string;
}

/** A STATIC ServiceEntry bound to the waypoint, with endpoint 127.0.0.1. */
export function serviceEntryYaml(e: EntrySpec): string {
  const target = e.targetPort === undefined ? '' : `, targetPort: ${e.targetPort}`;
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${e.name}, namespace: ${NAMESPACE}, labels: {istio.io/use-waypoint: ${WAYPOINT}}}
spec:
  hosts: [${e.host}]
  location: MESH_EXTERNAL
  ports: [{number: ${e.port}, name: http, protocol: HTTP${target}}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`;
}

/** Writes `yaml` as `<runDir>/<name>/bench.yaml` and returns the directory, for `--config`. */
export function writeConfig(runDir: string, name: string, yaml: string): string {
  const dir = join(runDir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'bench.yaml'), yaml);
  return dir;
}

/**
 * A module of the checkout under test (`src/...`), for benches that call its code in process. The
 * caller names the type from this checkout: `importFromRoot<typeof import('../src/x.ts')>(o, 'src/x.ts')`.
 */
export async function importFromRoot<T>(o: CommonOptions, path: string): Promise<T> {
  return (await import(pathToFileURL(join(o.egresswayRoot, path)).href)) as T;
}

/**
 * The launcher, as `npm start` and an installed package run it (it turns Node's compile cache on
 * before the first module loads); a checkout from before it existed runs src/cli/main.ts.
 */
export function cliPath(o: Pick<CommonOptions, 'egresswayRoot'>): string {
  const bin = join(o.egresswayRoot, 'bin/egressway.js');
  return existsSync(bin) ? bin : join(o.egresswayRoot, 'src/cli/main.ts');
}

/** `egressway run` on `configDir` with every port ephemeral; `extra` adds flags (HBONE, secrets). */
export function startWaypoint(
  o: CommonOptions, runDir: string, configDir: string, name = 'egressway', extra: readonly string[] = [], env: NodeJS.ProcessEnv = {},
): Promise<Server> {
  return startServer(name, [
    cliPath(o), 'run', '--config', configDir, '--proxy-port', '0', '--admin-port', '0',
    '--status-port', '0', '--stats-port', '0', '--access-log', o.accessLog, ...extra,
  ], runDir, undefined, 60_000, { EGRESSWAY_CONCURRENCY: String(o.concurrency), ...env });
}

/** The agent logs `{http, socks, identity}` once its listeners are up. */
function agentListeners(log: string): Record<string, string> | undefined {
  const line = jsonLines(log).find((j) => typeof j.http === 'string' && typeof j.socks === 'string');
  return line ? { http: line.http as string, socks: line.socks as string } : undefined;
}

/** `egressway agent` with ephemeral HTTP and SOCKS ports; `flags` carries the identity and waypoint. */
export function startAgent(o: CommonOptions, runDir: string, configDir: string, flags: readonly string[]): Promise<Server> {
  return startServer('agent', [
    cliPath(o), 'agent', '--config', configDir, '--http-port', '0', '--socks-port', '0', ...flags,
  ], runDir, agentListeners);
}
