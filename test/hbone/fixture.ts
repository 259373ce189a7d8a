// A mesh for HBONE tests: a CA from `src/certs`, workload certs for cart and web, the waypoint's own,
// and bad peers (expired, rogue CA, no SPIFFE ID), written as PEM files; plus a waypoint with the
// HBONE listener in front of a real HTTP upstream and a TCP echo.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { createMeshCa, issueLeaf, issueWorkload, type MeshCa } from '../../src/certs/pki.ts';
import { writePair } from '../../src/certs/files.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess, authorizationPolicy } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream, startTcpEcho, type EchoServer, type HttpUpstream } from '../helpers/upstream.ts';
import type { WaypointOptions } from '../../src/server.ts';

export interface Pki {
  readonly dir: TmpDir;
  readonly ca: MeshCa;
  readonly bundle: string;
  /** name -> {cert, key} file paths: waypoint, cart, web, expired, rogue, nospiffe. */
  readonly files: Record<string, { cert: string; key: string }>;
}

export async function makePki(): Promise<Pki> {
  const dir = await tmpDir('egressway-hbone-');
  const ca = await createMeshCa({ trustDomain: 'cluster.local' });
  const bundle = join(dir.path, 'ca.pem');
  await writeFile(bundle, ca.cert);
  const files: Record<string, { cert: string; key: string }> = {};
  const put = async (name: string, p: Promise<{ cert: string; key: string }>) => {
    const c = await p;
    files[name] = await writePair(dir.path, name, c.cert, c.key);
  };
  await put('waypoint', issueWorkload(ca, { namespace: 'istio-egress', serviceAccount: 'waypoint' }));
  await put('cart', issueWorkload(ca, { namespace: 'shop', serviceAccount: 'cart' }));
  await put('web', issueWorkload(ca, { namespace: 'shop', serviceAccount: 'web' }));
  await put('expired', issueWorkload(ca, { namespace: 'shop', serviceAccount: 'cart', notBefore: new Date(Date.now() - 2 * 86400_000), notAfter: new Date(Date.now() - 86400_000) }));
  const rogueCa = await createMeshCa({ trustDomain: 'cluster.local' });
  await put('rogue', issueWorkload(rogueCa, { namespace: 'shop', serviceAccount: 'cart' }));
  // Chains to the mesh CA but carries only a DNS name: not a workload.
  await put('nospiffe', issueLeaf(ca, { commonName: 'nospiffe', dnsNames: ['x.test'] }));
  return { dir, ca, bundle, files };
}

export interface Mesh {
  readonly pki: Pki;
  readonly up: HttpUpstream;
  readonly echo: EchoServer;
  readonly wp: InProcess;
  readonly hbonePort: number;
  close(): Promise<void>;
}

export const policy = (name: string, target: string, body: string) => authorizationPolicy(name, target, body);

/** api.test:80 (HTTP), raw.test:9000 (TCP echo), payments.test:80 (cart may POST, web may not). */
export async function startMesh(extraYaml = '', opts: Partial<WaypointOptions['hbone']> = {}): Promise<Mesh> {
  const pki = await makePki();
  const up = await startHttpUpstream();
  const echo = await startTcpEcho();
  const se = (name: string, port: number, target: number, proto: string) => serviceEntry(name, `hosts: [${name}.test]\nports: [{number: ${port}, name: p, protocol: ${proto}, targetPort: ${target}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
  const yaml = WAYPOINT_YAML + se('api', 80, up.port, 'HTTP') + se('raw', 9000, echo.port, 'TCP') + se('payments', 80, up.port, 'HTTP')
    + policy('payments', 'payments', 'action: ALLOW\nrules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/cart"]}}]}]\n')
    + extraYaml;
  const wp = await startInProcess(yaml, {
    hbone: { port: 0, cert: pki.files.waypoint!.cert, key: pki.files.waypoint!.key, trustBundle: pki.bundle, ...opts },
  });
  const hbonePort = Number(wp.wp.listeners.hbone!.split(':').pop());
  return {
    pki, up, echo, wp, hbonePort,
    async close() {
      await wp.close();
      await up.close();
      await echo.close();
      await pki.dir.close();
    },
  };
}

/** A Node HTTP/2 client session to the HBONE port, presenting `who`'s certificate. */
export function h2Session(port: number, pem: { cert: string; key: string; ca: string }): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = connect(`https://127.0.0.1:${port}`, { ...pem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

export function connectStream(s: ClientHttp2Session, authority: string, headers: Record<string, string> = {}): Promise<{ status: number; stream: ClientHttp2Stream }> {
  return new Promise((resolve, reject) => {
    const stream = s.request({ ':method': 'CONNECT', ':authority': authority, ...headers });
    stream.once('response', (h) => resolve({ status: Number(h[':status']), stream }));
    stream.once('error', reject);
  });
}
