// TLS origination (reference §3): the client sends http:// to port 80, the ServiceEntry sends it to
// targetPort (a TLS upstream here), and a DestinationRule tls.mode SIMPLE/MUTUAL makes the waypoint
// dial TLS. Every verification failure is a prompt 503 UF naming the cause, never a hang.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { createSecureServer } from 'node:http2';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { issueCert, makeCa, writePems, type CertificateAuthority } from '../helpers/certs.ts';
import { curl } from '../helpers/curl.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';
import { startHttpsUpstream, type EchoBody, type HttpUpstream } from '../helpers/upstream.ts';

function dr(name: string, host: string, tls: string): string {
  return `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: istio-egress}
spec:
  host: ${host}
  trafficPolicy:
    tls: ${tls}
`;
}

function se(name: string, port: number): string {
  return serviceEntry(name, `hosts: [${name}.test]
ports: [{number: 80, name: http, protocol: HTTP, targetPort: ${port}}]
resolution: STATIC
endpoints: [{address: 127.0.0.1}]`);
}

describe('DestinationRule TLS origination', () => {
  let ca: CertificateAuthority;
  let dir: TmpDir;
  let wp: InProcess;
  const ups: HttpUpstream[] = [];
  let paths: Record<string, { cert: string; key: string }>;

  before(async () => {
    ca = await makeCa({ commonName: 'upstream root' });
    const rogue = await makeCa({ commonName: 'rogue root' });
    const good = await issueCert(ca, { dnsNames: ['simple.test', 'mutual.test', 'secret.test', 'sans.test', 'alias.test'] });
    const other = await issueCert(ca, { dnsNames: ['other.test'] });
    const expired = await issueCert(ca, { dnsNames: ['expired.test'], expired: true });
    const unknown = await issueCert(rogue, { dnsNames: ['unknown.test', 'insecure.test'] });
    const client = await issueCert(ca, { commonName: 'waypoint-client', uris: ['spiffe://cluster.local/ns/istio-egress/sa/waypoint'], isClient: true });
    dir = await tmpDir();
    paths = await writePems(dir.path, { ca, client });
    // credentialName: a Kubernetes TLS Secret in the waypoint's namespace under --secrets-dir.
    const secret = join(dir.path, 'secrets', 'istio-egress', 'upstream-client');
    await mkdir(secret, { recursive: true });
    await writeFile(join(secret, 'tls.crt'), client.cert);
    await writeFile(join(secret, 'tls.key'), client.key);
    await writeFile(join(secret, 'ca.crt'), ca.cert);
    const start = (cert: { cert: string; key: string }, mtls = false) => startHttpsUpstream({ cert: cert.cert, key: cert.key, ...(mtls ? { ca: ca.cert, requestCert: true } : {}) });
    const [simple, mutual, wrongSan, exp, unk] = await Promise.all([start(good), start(good, true), start(other), start(expired), start(unknown)]);
    ups.push(simple!, mutual!, wrongSan!, exp!, unk!);
    const caFile = paths.ca!.cert;
    const withCa = (extra = '') => `{mode: SIMPLE, caCertificates: ${caFile}${extra}}`;
    wp = await startInProcess(WAYPOINT_YAML
      + se('simple', simple!.port) + dr('simple', 'simple.test', withCa())
      + se('mutual', mutual!.port) + dr('mutual', 'mutual.test', `{mode: MUTUAL, caCertificates: ${caFile}, clientCertificate: ${paths.client!.cert}, privateKey: ${paths.client!.key}}`)
      + se('secret', mutual!.port) + dr('secret', 'secret.test', '{mode: MUTUAL, credentialName: upstream-client}')
      + se('nocert', mutual!.port) + dr('nocert', 'nocert.test', `{mode: SIMPLE, caCertificates: ${caFile}, sni: simple.test}`)
      + se('wrongsan', wrongSan!.port) + dr('wrongsan', 'wrongsan.test', withCa())
      + se('sans', wrongSan!.port) + dr('sans', 'sans.test', withCa(', subjectAltNames: [other.test]'))
      + se('expired', exp!.port) + dr('expired', 'expired.test', withCa())
      + se('unknown', unk!.port) + dr('unknown', 'unknown.test', withCa())
      + se('insecure', unk!.port) + dr('insecure', 'insecure.test', '{mode: SIMPLE, insecureSkipVerify: true}')
      + se('plain', simple!.port) + dr('plain', 'plain.test', '{mode: DISABLE}')
      + se('alias', simple!.port) + dr('alias', 'alias.test', `{mode: SIMPLE, caCertificates: ${caFile}, sni: simple.test}`),
    { secretsDir: join(dir.path, 'secrets') });
  });
  after(async () => {
    await wp?.close();
    await Promise.all(ups.map((u) => u.close()));
    await dir?.close();
  });

  const get = (host: string, path = '/x') => curl(['-x', wp.proxyUrl, '-D', '-', '--max-time', '5', `http://${host}${path}`]);
  const echo = (stdout: string): EchoBody => JSON.parse(stdout.slice(stdout.indexOf('{'))) as EchoBody;

  test('SIMPLE: plain HTTP in, TLS to targetPort with SNI = the ServiceEntry host, verified', async () => {
    const r = await get('simple.test', '/simple');
    assert.equal(r.status, 200, r.stdout);
    const e = echo(r.stdout);
    assert.equal(e.tls?.servername, 'simple.test');
    assert.equal(e.tls?.alpnProtocol, 'http/1.1');
    assert.equal(e.headers.host, 'simple.test');
    const rec = await wp.nextRecord((x) => x.path === '/simple');
    assert.equal(rec.upstreamCluster, 'inbound-vip|80|http|simple.test');
    assert.equal(rec.upstreamHost, `127.0.0.1:${ups[0]!.port}`);
  });

  test('MUTUAL with clientCertificate/privateKey files presents the client certificate', async () => {
    const r = await get('mutual.test');
    assert.equal(r.status, 200, r.stdout);
    assert.match(echo(r.stdout).tls?.clientCert?.subjectAltName ?? '', /spiffe:\/\/cluster\.local\/ns\/istio-egress\/sa\/waypoint/);
  });

  test('MUTUAL with credentialName reads tls.crt/tls.key/ca.crt from --secrets-dir', async () => {
    const r = await get('secret.test');
    assert.equal(r.status, 200, r.stdout);
    assert.ok(echo(r.stdout).tls?.clientCert, 'client certificate presented');
  });

  // In TLS 1.3 the server checks the client certificate after the client's handshake has completed,
  // so the refusal arrives as a close on the first request: UC (or UF when the alert is read first).
  test('a server that requires a client certificate refuses SIMPLE: a prompt 503, not a hang', async () => {
    const r = await get('nocert.test', '/nocert');
    assert.equal(r.status, 503, r.stdout);
    assert.match(r.stdout, /x-egressway-flags: U[FC]/i);
  });

  const failures: { host: string; reason: RegExp }[] = [
    { host: 'wrongsan.test', reason: /certificate verify failed: hostname mismatch/ },
    { host: 'expired.test', reason: /certificate verify failed: certificate has expired/ },
    { host: 'unknown.test', reason: /certificate verify failed: unknown CA/ },
  ];
  for (const f of failures) {
    test(`${f.host}: 503 UF with the transport failure reason`, async () => {
      const started = Date.now();
      const r = await get(f.host, `/${f.host}`);
      assert.equal(r.status, 503, r.stdout);
      assert.ok(Date.now() - started < 3000, 'fails promptly');
      assert.match(r.stdout, /x-egressway-flags: UF/i);
      assert.match(r.stdout, f.reason);
      const rec = await wp.nextRecord((x) => x.authority === f.host);
      assert.equal(rec.responseFlags.split(',')[0], 'UF');
      assert.match(rec.upstreamTransportFailureReason, f.reason);
      assert.match(rec.responseCodeDetails, /TLS_error/);
    });
  }

  test('subjectAltNames accepts a certificate for another name than the SNI', async () => {
    const r = await get('sans.test');
    assert.equal(r.status, 200, r.stdout);
    assert.equal(echo(r.stdout).tls?.servername, 'sans.test');
  });

  test('explicit sni is sent and verified instead of the host', async () => {
    const r = await get('alias.test');
    assert.equal(r.status, 200, r.stdout);
    assert.equal(echo(r.stdout).tls?.servername, 'simple.test');
  });

  test('insecureSkipVerify accepts an unknown CA', async () => {
    const r = await get('insecure.test');
    assert.equal(r.status, 200, r.stdout);
  });

  test('DISABLE sends plain HTTP (to a TLS port: the upstream refuses it)', async () => {
    const r = await get('plain.test', '/plain');
    assert.notEqual(r.status, 200);
    const rec = await wp.nextRecord((x) => x.path === '/plain');
    assert.notEqual(rec.responseFlags, '-');
  });
});

describe('upstream HTTP/2 over TLS origination', () => {
  test('an HTTP2 port with tls SIMPLE speaks h2 (ALPN) upstream; an HTTP port stays on HTTP/1.1', async () => {
    const ca = await makeCa();
    const cert = await issueCert(ca, { dnsNames: ['h2.test', 'h1.test'] });
    const dir = await tmpDir();
    const files = await writePems(dir.path, { ca });
    const server = createSecureServer({ cert: cert.cert, key: cert.key, allowHTTP1: true }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ httpVersion: req.httpVersion, authority: req.headers[':authority'] ?? req.headers.host }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const entry = (name: string, protocol: string) => serviceEntry(name, `hosts: [${name}.test]
ports: [{number: 80, name: web, protocol: ${protocol}, targetPort: ${port}}]
resolution: STATIC
endpoints: [{address: 127.0.0.1}]`);
    const wp = await startInProcess(WAYPOINT_YAML + entry('h2', 'HTTP2') + dr('h2', 'h2.test', `{mode: SIMPLE, caCertificates: ${files.ca!.cert}}`)
      + entry('h1', 'HTTP') + dr('h1', 'h1.test', `{mode: SIMPLE, caCertificates: ${files.ca!.cert}}`));
    try {
      const h2 = await curl(['-x', wp.proxyUrl, '--max-time', '5', 'http://h2.test/x']);
      assert.equal(h2.status, 200, h2.stdout);
      assert.deepEqual(JSON.parse(h2.stdout), { httpVersion: '2.0', authority: 'h2.test' });
      const h1 = await curl(['-x', wp.proxyUrl, '--max-time', '5', 'http://h1.test/x']);
      assert.equal(JSON.parse(h1.stdout).httpVersion, '1.1');
    } finally {
      await wp.close();
      server.close();
      await dir.close();
    }
  });
});
