// Starts the waypoint inside the test process (faster than a child, and records are observable).
// Process-level behaviour (signals, exit codes, CLI errors) is tested with startWaypoint in run.ts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startWaypoint, type RunningWaypoint, type WaypointOptions } from '../../src/server.ts';
import type { RequestRecord } from '../../src/telemetry/record.ts';

export interface InProcess {
  readonly wp: RunningWaypoint;
  readonly dir: string;
  readonly proxyUrl: string;
  readonly adminUrl: string;
  readonly statsUrl: string;
  readonly statusUrl: string;
  readonly records: RequestRecord[];
  /** Resolves with the next record matching `pred` (or one already seen). */
  nextRecord(pred?: (r: RequestRecord) => boolean, timeoutMs?: number): Promise<RequestRecord>;
  writeYaml(text: string, file?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startInProcess(yaml: string, opts: Partial<WaypointOptions> = {}): Promise<InProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'egw-'));
  await writeFile(join(dir, 'config.yaml'), yaml);
  const records: RequestRecord[] = [];
  const waiters: { pred: (r: RequestRecord) => boolean; resolve: (r: RequestRecord) => void }[] = [];
  const wp = await startWaypoint({
    configPaths: [dir], compile: {}, listenAddress: '127.0.0.1', adminAddress: '127.0.0.1',
    ports: { proxy: 0, admin: 0, status: 0, stats: 0 }, accessLog: 'off', watch: false,
    logger: pino({ level: 'silent' }),
    ...opts,
    onRecord: (r) => {
      records.push(r);
      for (const w of waiters.splice(0)) (w.pred(r) ? w.resolve(r) : waiters.push(w));
    },
  });
  return {
    wp, dir, records,
    proxyUrl: `http://${wp.listeners.proxy}`, adminUrl: `http://${wp.listeners.admin}`,
    statsUrl: `http://${wp.listeners.stats}`, statusUrl: `http://${wp.listeners.status}`,
    nextRecord(pred = () => true, timeoutMs = 5000) {
      const seen = records.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no matching request record within timeout')), timeoutMs);
        waiters.push({ pred, resolve: (r) => { clearTimeout(t); resolve(r); } });
      });
    },
    async writeYaml(text, file = 'config.yaml') {
      await writeFile(join(dir, file), text);
    },
    async close() {
      await wp.stop(500);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const WAYPOINT_YAML = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: istio-egress}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
`;

/** The waypoint above, accepting ServiceEntries (and routes) from every namespace. */
export const WAYPOINT_ALL_NAMESPACES_YAML = WAYPOINT_YAML.replace('protocol: HBONE}', 'protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}');

/** A ServiceEntry bound to the waypoint above. `extra` is YAML spliced into spec. */
export function serviceEntry(name: string, spec: string, labels = 'istio.io/use-waypoint: waypoint'): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: istio-egress, labels: {${labels}}}
spec:
${spec.replace(/^\n/, '').split('\n').map((l) => `  ${l}`).join('\n')}
`;
}

/** A ServiceEntry `<name>.test` bound to the waypoint whose port forwards to a loopback test server. */
export function loopbackEntry(name: string, targetPort: number, opts: { port?: number; protocol?: string; portName?: string } = {}): string {
  const { port = 80, protocol = 'HTTP', portName = 'http' } = opts;
  return serviceEntry(name, `hosts: [${name}.test]\nports: [{number: ${port}, name: ${portName}, protocol: ${protocol}, targetPort: ${targetPort}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
}

/** A DestinationRule in istio-egress for host `<name>.test`; `trafficPolicy` is a YAML flow mapping. */
export function destinationRule(name: string, trafficPolicy: string): string {
  return `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: istio-egress}
spec:
  host: ${name}.test
  trafficPolicy: ${trafficPolicy}
`;
}

/** A STATIC ServiceEntry `<name>.test` with one VIP, one port (a YAML flow mapping) and 127.0.0.1 as its endpoint. */
export function vipEntry(name: string, address: string, port: string): string {
  return serviceEntry(name, `hosts: [${name}.test]\naddresses: [${address}]\nports: [${port}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
}

/** An AuthorizationPolicy in istio-egress targeting one ServiceEntry; `body` is YAML under spec. */
export function authorizationPolicy(name: string, target: string, body: string, annotations = ''): string {
  return `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: istio-egress${annotations ? `, annotations: {${annotations}}` : ''}}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: ${target}}]
${body.trimEnd().split('\n').map((l) => `  ${l}`).join('\n')}
`;
}
