// `egressway check` and the live waypoint agree, row by row, on a table of requests covering every input
// check can be given: a JWT (valid, forged, expired, wrong audience) or --claims in its place, scope
// claims, request principals, a Host header apart from the dialled address, encoded and dotted paths
// under meshConfig pathNormalization, destination IPs (service VIPs), SNI of a TLS tunnel, TCP tunnels,
// a principal that is not Istio-shaped, and a source namespace. The real CLI runs the waypoint (mTLS
// HBONE listener: each client's certificate is its identity, as in ambient) and check (one `--requests`
// batch); each row is sent for real through an HBONE CONNECT and compared with check's line: verdict, status, details,
// flags, body, WWW-Authenticate and the AUDIT mark. Each row also says what it expects, so two
// implementations that are wrong the same way still fail.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect as h2Connect, type ClientHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { issueCert, makeCa, type IssuedCert } from '../helpers/certs.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { startHttpUpstream, startTcpEcho, startTlsEcho, type EchoServer, type HttpUpstream } from '../helpers/upstream.ts';
import { REPO_ROOT, startWaypoint, type LogLine, type Waypoint } from '../helpers/waypoint.ts';

const ISS = 'https://issuer.test';
const ID = {
  cart: 'spiffe://cluster.local/ns/shop/sa/cart',
  web: 'spiffe://cluster.local/ns/shop/sa/web',
  billing: 'spiffe://cluster.local/ns/billing/sa/reporter',
  // Not Istio-shaped (no /ns/../sa/..): still a principal, as in Envoy.
  batch: 'spiffe://example.org/batch/nightly',
  // The HBONE listener wants a SPIFFE ID from every peer; no policy names this one.
  guest: 'spiffe://cluster.local/ns/guest/sa/guest',
} as const;
type Client = keyof typeof ID;

const policy = (name: string, target: string, body: string) => `---
apiVersion: security.istio.io/v1
kind: ${name.startsWith('ra-') ? 'RequestAuthentication' : 'AuthorizationPolicy'}
metadata: {name: ${name}, namespace: istio-egress}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: ${target}}]
${body.trimEnd().split('\n').map((l) => `  ${l}`).join('\n')}
`;

const POLICIES = (jwks: string) => [
  policy('ra-api', 'api', `jwtRules:\n- issuer: ${ISS}\n  audiences: [orders]\n  jwks: '${jwks}'`),
  policy('api', 'api', `rules:
- from: [{source: {principals: ["cluster.local/ns/shop/sa/cart"]}}]
- from: [{source: {namespaces: [billing]}}]
  to: [{operation: {methods: [GET]}}]
- from: [{source: {principals: ["example.org/batch/nightly"]}}]
  to: [{operation: {paths: ["/batch*"]}}]
- from: [{source: {requestPrincipals: ["${ISS}/alice"]}}]
  to: [{operation: {paths: ["/me*"]}}]
- to: [{operation: {paths: ["/scoped*"]}}]
  when: [{key: "request.auth.claims[scope]", values: [orders.write]}]
- to: [{operation: {hosts: [api.test], paths: ["/host*"]}}]
- to: [{operation: {paths: ["/dip*"]}}]
  when: [{key: destination.ip, values: [127.0.0.77]}]`),
  policy('api-deny', 'api', 'action: DENY\nrules: [{to: [{operation: {paths: [/admin, "/admin/*"]}}]}]'),
  policy('api-audit', 'api', 'action: AUDIT\nrules: [{to: [{operation: {paths: ["/audited*"]}}]}]'),
  policy('legacy', 'legacy', 'action: DENY\nrules: [{when: [{key: destination.ip, notValues: [127.0.0.88]}]}]'),
  policy('db', 'db', 'rules: [{from: [{source: {principals: ["cluster.local/ns/shop/sa/cart"]}}]}]'),
  policy('tls', 'tls', 'rules: [{when: [{key: connection.sni, values: [tls.test]}]}]'),
].join('');

interface Row {
  readonly name: string;
  readonly client: Client;
  /** The CONNECT authority: the address the client dialled. */
  readonly dial: string;
  readonly kind: 'http' | 'tls' | 'tcp';
  readonly method?: string;
  /** Raw request target, sent as is. */
  readonly path?: string;
  /** Host header when it differs from the dialled host. */
  readonly host?: string;
  readonly token?: 'alice' | 'bob' | 'forged' | 'expired' | 'wrongAud' | 'scope1' | 'scope2';
  /** Check gets the token's claims with --claims instead of the token. */
  readonly asClaims?: boolean;
  readonly sni?: string;
  /** How check is told who the client is, when not by --from with the client's SPIFFE ID. */
  readonly checkIdentity?: { readonly principal?: string; readonly sourceNamespace?: string };
  readonly expect: 'allow' | 'deny';
}

const ROWS: readonly Row[] = [
  { name: 'an allowed principal', client: 'cart', dial: 'api.test:80', kind: 'http', path: '/orders', expect: 'allow' },
  { name: 'another principal: default deny', client: 'web', dial: 'api.test:80', kind: 'http', path: '/orders', expect: 'deny' },
  { name: 'percent-encoded unreserved char cannot dodge a DENY', client: 'cart', dial: 'api.test:80', kind: 'http', path: '/%61dmin', expect: 'deny' },
  { name: 'dot segment cannot dodge a DENY', client: 'cart', dial: 'api.test:80', kind: 'http', path: '/./admin', expect: 'deny' },
  { name: 'encoded dot-dot cannot dodge a DENY', client: 'cart', dial: 'api.test:80', kind: 'http', path: '/public/%2e%2e/admin/x', expect: 'deny' },
  { name: 'double slash is merged (MERGE_SLASHES)', client: 'cart', dial: 'api.test:80', kind: 'http', path: '//admin', expect: 'deny' },
  { name: '%2F is decoded (DECODE_AND_MERGE_SLASHES)', client: 'cart', dial: 'api.test:80', kind: 'http', path: '/%2Fadmin', expect: 'deny' },
  { name: 'a longer name is not the denied path', client: 'cart', dial: 'api.test:80', kind: 'http', path: '/adminx', expect: 'allow' },
  { name: '%00 is refused before policy', client: 'cart', dial: 'api.test:80', kind: 'http', path: '/a%00b', expect: 'deny' },
  { name: 'source namespace: GET allowed', client: 'billing', dial: 'api.test:80', kind: 'http', path: '/reports', checkIdentity: { sourceNamespace: 'billing' }, expect: 'allow' },
  { name: 'source namespace: POST denied', client: 'billing', dial: 'api.test:80', kind: 'http', method: 'POST', path: '/reports', checkIdentity: { sourceNamespace: 'billing' }, expect: 'deny' },
  { name: 'a principal that is not Istio-shaped', client: 'batch', dial: 'api.test:80', kind: 'http', path: '/batch/run', checkIdentity: { principal: 'example.org/batch/nightly' }, expect: 'allow' },
  { name: 'a principal that is not Istio-shaped, other path', client: 'batch', dial: 'api.test:80', kind: 'http', path: '/orders', expect: 'deny' },
  { name: 'JWT: request principal allowed', client: 'guest', dial: 'api.test:80', kind: 'http', path: '/me', token: 'alice', expect: 'allow' },
  { name: 'JWT: other request principal', client: 'guest', dial: 'api.test:80', kind: 'http', path: '/me', token: 'bob', expect: 'deny' },
  { name: 'JWT: no token', client: 'guest', dial: 'api.test:80', kind: 'http', path: '/me', expect: 'deny' },
  { name: 'JWT: forged signature is 401', client: 'guest', dial: 'api.test:80', kind: 'http', path: '/me', token: 'forged', expect: 'deny' },
  { name: 'JWT: expired is 401', client: 'guest', dial: 'api.test:80', kind: 'http', path: '/me', token: 'expired', expect: 'deny' },
  { name: 'JWT: wrong audience is 403', client: 'guest', dial: 'api.test:80', kind: 'http', path: '/me', token: 'wrongAud', expect: 'deny' },
  { name: '--claims agree with the token they describe', client: 'guest', dial: 'api.test:80', kind: 'http', path: '/me', token: 'alice', asClaims: true, expect: 'allow' },
  { name: '--claims: wrong audience is 403 as with a token', client: 'guest', dial: 'api.test:80', kind: 'http', path: '/me', token: 'wrongAud', asClaims: true, expect: 'deny' },
  { name: 'scope claim, one value', client: 'guest', dial: 'api.test:80', kind: 'http', path: '/scoped', token: 'scope1', expect: 'allow' },
  { name: 'scope claim, space-delimited', client: 'guest', dial: 'api.test:80', kind: 'http', path: '/scoped', token: 'scope2', expect: 'allow' },
  { name: 'scope claim, space-delimited, as --claims', client: 'guest', dial: 'api.test:80', kind: 'http', path: '/scoped', token: 'scope2', asClaims: true, expect: 'allow' },
  { name: 'Host names the service of the dialled VIP', client: 'guest', dial: '127.0.0.77:80', kind: 'http', path: '/host', host: 'api.test', expect: 'allow' },
  { name: 'Host is the dialled VIP', client: 'guest', dial: '127.0.0.77:80', kind: 'http', path: '/host', expect: 'deny' },
  { name: 'Host names another destination: 421, no domain fronting', client: 'guest', dial: 'api.test:80', kind: 'http', path: '/host', host: 'front.test', expect: 'deny' },
  { name: 'AUDIT marks the request', client: 'cart', dial: 'api.test:80', kind: 'http', path: '/audited/1', expect: 'allow' },
  // The service VIP as the dialled address: check takes it as destination.ip.
  { name: 'destination.ip: the VIP dialled', client: 'guest', dial: '127.0.0.77:80', kind: 'http', path: '/dip', expect: 'allow' },
  { name: 'destination.ip: notValues on the VIP dialled does not deny', client: 'guest', dial: '127.0.0.88:80', kind: 'http', path: '/x', expect: 'allow' },
  { name: 'TCP tunnel: allowed principal', client: 'cart', dial: 'db.test:5432', kind: 'tcp', expect: 'allow' },
  { name: 'TCP tunnel: other principal', client: 'web', dial: 'db.test:5432', kind: 'tcp', expect: 'deny' },
  { name: 'TLS tunnel: SNI allowed', client: 'guest', dial: 'tls.test:443', kind: 'tls', sni: 'tls.test', expect: 'allow' },
  { name: 'TLS tunnel: other SNI', client: 'guest', dial: 'tls.test:443', kind: 'tls', sni: 'evil.test', expect: 'deny' },
];

/** What a client saw (and the waypoint logged) for one row. */
interface Observed {
  allow: boolean;
  status: number;
  details: string;
  flags: string;
  body?: string;
  wwwAuthenticate?: string;
  audit?: string;
}

interface CheckLine {
  line: number;
  decision: { allow: boolean; details: string; flags: string; audit?: { policy: string }; response?: { status: number; headers: [string, string][]; body: string } };
  expectation?: { expect: string; met: boolean };
}

describe('check and the live waypoint agree on every input', () => {
  let dir: TmpDir;
  let wp: Waypoint;
  let up: HttpUpstream;
  let tcp: EchoServer;
  let tlsUp: EchoServer;
  let trust: string;
  const certs = {} as Record<Client, IssuedCert>;
  const tokens = {} as Record<NonNullable<Row['token']>, string>;
  const claims = {} as Record<NonNullable<Row['token']>, Record<string, unknown>>;
  let checked: { code: number; lines: CheckLine[]; stderr: string };

  before(async () => {
    dir = await tmpDir();
    const ca = await makeCa();
    trust = ca.trust;
    for (const c of Object.keys(ID) as (keyof typeof ID)[]) certs[c] = await issueCert(ca, { isClient: true, commonName: c, uris: [ID[c]] });
    const server = await issueCert(ca, { dnsNames: ['tls.test'] });
    const waypoint = await issueCert(ca, { uris: ['spiffe://cluster.local/ns/istio-egress/sa/waypoint'] });
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] });
    const now = Math.floor(Date.now() / 1000);
    const defs: Record<NonNullable<Row['token']>, [Record<string, unknown>, boolean?]> = {
      alice: [{ iss: ISS, sub: 'alice', aud: 'orders', exp: now + 600 }],
      bob: [{ iss: ISS, sub: 'bob', aud: 'orders', exp: now + 600 }],
      forged: [{ iss: ISS, sub: 'mallory', aud: 'orders', exp: now + 600 }, true],
      expired: [{ iss: ISS, sub: 'alice', aud: 'orders', exp: now - 3600 }],
      wrongAud: [{ iss: ISS, sub: 'alice', aud: 'billing', exp: now + 600 }],
      scope1: [{ iss: ISS, sub: 'svc', aud: 'orders', exp: now + 600, scope: 'orders.write' }],
      scope2: [{ iss: ISS, sub: 'svc', aud: 'orders', exp: now + 600, scope: 'orders.read orders.write' }],
    };
    for (const [k, [c, forged]] of Object.entries(defs) as [NonNullable<Row['token']>, [Record<string, unknown>, boolean?]][]) {
      claims[k] = c;
      tokens[k] = await new SignJWT(c).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(forged ? other.privateKey : privateKey);
    }
    up = await startHttpUpstream();
    tcp = await startTcpEcho();
    tlsUp = await startTlsEcho({ cert: server.cert, key: server.key });
    const se = (name: string, port: number, protocol: string, target: number, address?: string) => serviceEntry(name,
      `hosts: [${name}.test]\n${address ? `addresses: [${address}]\n` : ''}ports: [{number: ${port}, name: p, protocol: ${protocol}, targetPort: ${target}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`);
    await writeFile(join(dir.path, 'config.yaml'), WAYPOINT_YAML + se('api', 80, 'HTTP', up.port, '127.0.0.77') + se('legacy', 80, 'HTTP', up.port, '127.0.0.88')
      + se('db', 5432, 'TCP', tcp.port) + se('tls', 443, 'TLS', tlsUp.port) + POLICIES(jwks));
    await writeFile(join(dir.path, 'mesh.yaml'), 'pathNormalization: {normalization: DECODE_AND_MERGE_SLASHES}\n');
    for (const [name, text] of [['ca.pem', ca.trust], ['waypoint.pem', waypoint.cert], ['waypoint.key', waypoint.key]]) await writeFile(join(dir.path, name!), text!);
    await writeFile(join(dir.path, 'requests.jsonl'), `# one line per row\n${ROWS.map((r) => JSON.stringify(checkLine(r))).join('\n')}\n`);
    const [started, ran] = await Promise.all([
      startWaypoint({
        configDir: join(dir.path, 'config.yaml'),
        args: ['--mesh-config', join(dir.path, 'mesh.yaml'), '--hbone-port', '0', '--hbone-cert', join(dir.path, 'waypoint.pem'), '--hbone-key', join(dir.path, 'waypoint.key'), '--trust-bundle', join(dir.path, 'ca.pem')],
        startTimeoutMs: 30_000,
      }),
      runCheck(['--config', join(dir.path, 'config.yaml'), '--mesh-config', join(dir.path, 'mesh.yaml'), '--requests', join(dir.path, 'requests.jsonl')]),
    ]);
    wp = started;
    checked = ran;
  });
  after(async () => {
    await wp?.close();
    await up?.close();
    await tcp?.close();
    await tlsUp?.close();
    await dir?.close();
  });

  function checkLine(r: Row): Record<string, unknown> {
    const [host, port] = splitDial(r.dial);
    const scheme = r.kind === 'http' ? 'http' : r.kind === 'tls' ? 'https' : 'tcp';
    const url = r.kind === 'http' ? `http://${port === 80 ? host : r.dial}${r.path}${rowQuery(r)}` : `${scheme}://${r.dial}`;
    const headers: Record<string, string> = {};
    if (r.host) headers.host = r.host;
    if (r.token && !r.asClaims) headers.authorization = `Bearer ${tokens[r.token]}`;
    const identity = r.checkIdentity ?? { from: ID[r.client] };
    return {
      url, ...(r.method ? { method: r.method } : {}), ...(Object.keys(headers).length ? { headers } : {}), ...identity,
      ...(r.asClaims && r.token ? { claims: claims[r.token] } : {}),
      ...(r.sni && r.sni !== host ? { sni: r.sni } : {}),
      expect: r.expect,
    };
  }

  for (const [i, r] of ROWS.entries()) {
    test(`${r.kind} ${r.dial}${r.path ?? ''}: ${r.name}`, async () => {
      assert.equal(checked.lines.length, ROWS.length, `check printed one line per row (exit ${checked.code}): ${checked.stderr}`);
      const c = checked.lines[i]!;
      assert.equal(c.line, i + 2, 'line numbers count the comment line');
      const seen = await send(r);
      const want = {
        allow: c.decision.allow, status: c.decision.response?.status ?? 200, details: c.decision.details, flags: c.decision.flags,
        ...(c.decision.response && r.kind === 'http' ? { body: c.decision.response.body } : {}),
        ...(wwwAuth(c) ? { wwwAuthenticate: wwwAuth(c) } : {}),
        ...(c.decision.audit ? { audit: c.decision.audit.policy } : {}),
      };
      assert.deepEqual(seen, want, `row ${i + 1}: the waypoint (actual) and check (expected) disagree`);
      assert.equal(seen.allow, r.expect === 'allow', `row ${i + 1} expects ${r.expect}`);
      assert.deepEqual(c.expectation, { expect: r.expect, met: true });
    });
  }

  test('batch exit code 0: every row got what it expects', () => {
    assert.equal(checked.code, 0, checked.stderr);
    assert.equal(checked.stderr, '');
  });

  const wwwAuth = (c: CheckLine) => c.decision.response?.headers.find(([k]) => k === 'www-authenticate')?.[1];

  /** Sends one row through the waypoint: an HBONE CONNECT with the client's certificate, then the request, bytes or TLS. */
  async function send(r: Row): Promise<Observed> {
    // Log lines before this one were written by earlier rows.
    const from = wp.logs.length;
    const session = await hbone(certs[r.client]);
    try {
      const stream = session.request({ ':method': 'CONNECT', ':authority': r.dial });
      const h = await new Promise<Record<string, string | string[] | undefined>>((ok, fail) => stream.once('response', ok).once('error', fail));
      const status = Number(h[':status']);
      if (status !== 200) return { allow: false, status, details: String(h['x-egressway-details'] ?? ''), flags: String(h['x-egressway-flags'] ?? '') };
      if (r.kind === 'http') return await httpExchange(r, stream, new Reader(stream), from);
      // The TLS client reads the stream itself (no Reader: it would set an encoding on it).
      const through = r.kind === 'tcp' ? await echoes(stream, new Reader(stream)) : await handshakes(stream, r.sni!);
      // The waypoint logs a tunnel when it ends.
      stream.destroy();
      return through ? tunnelAllowed(r, from) : tunnelDenied(r, from);
    } finally {
      session.destroy();
    }
  }

  function hbone(c: IssuedCert): Promise<ClientHttp2Session> {
    return new Promise((ok, fail) => {
      const s = h2Connect(`https://${wp.listeners.hbone!.authority}`, { ca: trust, cert: c.cert, key: c.key, checkServerIdentity: () => undefined });
      s.once('connect', () => ok(s)).once('error', fail);
    });
  }

  async function httpExchange(r: Row, sock: Duplex, reader: Reader, from: number): Promise<Observed> {
    const [host, port] = splitDial(r.dial);
    const auth = r.token ? `authorization: Bearer ${tokens[r.token]}\r\n` : '';
    const target = `${r.path}${rowQuery(r)}`;
    sock.write(`${r.method ?? 'GET'} ${target} HTTP/1.1\r\nhost: ${r.host ?? (port === 80 ? host : r.dial)}\r\n${auth}connection: close\r\n\r\n`);
    const head = parseHead(await reader.head());
    const body = await reader.rest();
    const log = await wp.waitForLog((l) => wp.logs.indexOf(l) >= from && typeof l.path === 'string' && l.path.endsWith(rowQuery(r)), 5_000);
    const audit = typeof log.audit_policy === 'string' ? { audit: log.audit_policy } : {};
    if (head.status === 200 && log.response_code_details === 'via_upstream') return { allow: true, status: 200, details: '', flags: '-', ...audit };
    return {
      allow: false, status: head.status, details: head.headers['x-egressway-details'] ?? '', flags: head.headers['x-egressway-flags'] ?? '', body,
      ...(head.headers['www-authenticate'] ? { wwwAuthenticate: head.headers['www-authenticate'] } : {}), ...audit,
    };
  }

  async function tunnelAllowed(r: Row, from: number): Promise<Observed> {
    const log = await tunnelLog(r, from);
    return { allow: true, status: 200, details: '', flags: '-', ...(typeof log.audit_policy === 'string' ? { audit: log.audit_policy } : {}) };
  }

  // Closed after the CONNECT was answered (a decision that needs the ClientHello): the log says why.
  async function tunnelDenied(r: Row, from: number): Promise<Observed> {
    const log = await tunnelLog(r, from);
    return { allow: false, status: Number(log.response_code), details: String(log.response_code_details), flags: String(log.response_flags) };
  }

  function tunnelLog(r: Row, from: number): Promise<LogLine> {
    return wp.waitForLog((l) => wp.logs.indexOf(l) >= from && l.authority === r.dial && l.method === 'CONNECT', 5_000);
  }
});

function splitDial(dial: string): [string, number] {
  const at = dial.lastIndexOf(':');
  return [dial.slice(0, at), Number(dial.slice(at + 1))];
}

/** A query that names the row, so its access-log line can be found (policies' paths ignore the query). */
function rowQuery(r: Row): string {
  return r.kind === 'http' ? `?row=${ROWS.indexOf(r) + 1}` : '';
}

function runCheck(args: string[]): Promise<{ code: number; lines: CheckLine[]; stderr: string }> {
  return new Promise((resolve) => {
    execFile(join(REPO_ROOT, 'node_modules/.bin/node'), ['src/cli/main.ts', 'check', ...args], { cwd: REPO_ROOT, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const lines = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as CheckLine);
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) : 0, lines, stderr });
    });
  });
}

function parseHead(text: string): { status: number; headers: Record<string, string> } {
  const [first, ...rest] = text.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of rest) {
    const at = l.indexOf(':');
    if (at > 0) headers[l.slice(0, at).trim().toLowerCase()] = l.slice(at + 1).trim();
  }
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(first ?? '')?.[1] ?? 0), headers };
}

async function echoes(sock: Duplex, reader: Reader): Promise<boolean> {
  sock.write('ping\n');
  return (await reader.some(4)) === 'ping';
}

async function handshakes(sock: Duplex, servername: string): Promise<boolean> {
  const inner = tlsConnect({ socket: sock, servername, rejectUnauthorized: false });
  try {
    return await new Promise<boolean>((ok) => {
      inner.once('secureConnect', () => ok(true)).once('error', () => ok(false)).once('close', () => ok(false));
      setTimeout(() => ok(false), 5_000).unref();
    });
  } finally {
    inner.destroy();
  }
}

/** Reads a socket as text: a response head, some bytes, or everything until it closes. */
class Reader {
  #buf = '';
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(sock: Duplex) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => { this.#buf += d; this.#wake?.(); });
    const end = () => { this.#ended = true; this.#wake?.(); };
    sock.once('end', end).once('close', end).once('error', end);
  }

  async #until(done: () => boolean): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!done() && !this.#ended && Date.now() < deadline) {
      await new Promise<void>((r) => { this.#wake = r; setTimeout(r, 100).unref(); });
    }
  }

  async head(): Promise<string> {
    await this.#until(() => this.#buf.includes('\r\n\r\n'));
    const at = this.#buf.indexOf('\r\n\r\n');
    if (at < 0) return '';
    const h = this.#buf.slice(0, at);
    this.#buf = this.#buf.slice(at + 4);
    return h;
  }

  async some(n: number): Promise<string> {
    await this.#until(() => this.#buf.length >= n);
    const s = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return s;
  }

  async rest(): Promise<string> {
    await this.#until(() => false);
    return this.#buf;
  }
}
