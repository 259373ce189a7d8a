// Interoperability: the HBONE listener driven by Python h2 (Debian python3-h2), an HTTP/2 stack we
// did not write, speaking classic CONNECT as ztunnel does (TLS 1.3, ALPN h2, client cert, no SNI).
// Bad peers get Istio's refusal and the listener keeps serving good ones.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { startMesh, type Mesh } from './fixture.ts';

const PY = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./h2_connect.py', import.meta.url));
const hasH2 = (() => {
  try {
    execFileSync(PY, ['-c', 'import h2'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

interface PyResult {
  readonly error?: string;
  readonly streams?: { status: number | null; data: string; reset: number | null }[];
}

describe('HBONE interop with Python h2', { skip: !hasH2 && 'python3-h2 is not installed (apt-get install python3-h2)' }, () => {
  let m: Mesh;
  before(async () => {
    m = await startMesh();
  });
  after(async () => m?.close());

  const py = (who: string | null, args: string[]): Promise<PyResult> => new Promise((resolve, reject) => {
    const id = who ? ['--cert', m.pki.files[who]!.cert, '--key', m.pki.files[who]!.key] : [];
    execFile(PY, [SCRIPT, '--port', String(m.hbonePort), '--ca', m.pki.bundle, ...id, ...args], { timeout: 15_000 }, (err, stdout) => {
      if (err && !stdout) return reject(err);
      resolve(JSON.parse(stdout) as PyResult);
    });
  });
  const one = (r: PyResult) => {
    assert.equal(r.error, undefined, r.error);
    return r.streams![0]!;
  };
  const GET = (host: string, path: string) => `GET ${path} HTTP/1.1\\r\\nHost: ${host}\\r\\nConnection: close\\r\\n\\r\\n`;

  test('CONNECT to a TCP port: 200 and the bytes echoed', async () => {
    const s = one(await py('cart', ['--authority', 'raw.test:9000', '--send', 'hello over hbone', '--expect', 'hello over hbone']));
    assert.equal(s.status, 200);
    assert.equal(s.data, 'hello over hbone');
  });

  test('many CONNECT streams on one connection', async () => {
    const r = await py('cart', ['--authority', 'raw.test:9000', '--send', 'multi', '--expect', 'multi', '--streams', '5']);
    assert.equal(r.error, undefined, r.error);
    assert.deepEqual(r.streams!.map((s) => [s.status, s.data]), Array(5).fill([200, 'multi']));
  });

  test('CONNECT to an HTTP port: the HTTP/1.1 request reaches the real upstream, with the peer identity', async () => {
    const s = one(await py('cart', ['--authority', 'api.test:80', '--send', GET('api.test', '/from-python')]));
    assert.equal(s.status, 200);
    assert.match(s.data, /^HTTP\/1\.1 200 /);
    assert.match(s.data, /"\/from-python"/);
    const rec = await m.wp.nextRecord((r) => r.path === '/from-python');
    assert.equal(rec.sourcePrincipal, 'spiffe://cluster.local/ns/shop/sa/cart');
    assert.equal(rec.sourceWorkload, 'py-client');
    assert.equal(rec.connectionSecurityPolicy, 'mutual_tls');
    assert.equal(m.up.received.at(-1)!.url, '/from-python');
  });

  test('CONNECT to the ServiceEntry VIP routes like the host', async () => {
    const api = m.wp.wp.store.current().services.find((s) => s.hosts.includes('api.test'))!;
    assert.match(api.addresses[0]!, /^240\.240\./);
    const s = one(await py('cart', ['--authority', `${api.addresses[0]}:80`, '--send', GET('api.test', '/via-vip')]));
    assert.equal(s.status, 200);
    assert.match(s.data, /^HTTP\/1\.1 200 /);
  });

  test('non-CONNECT and malformed authorities get 400', async () => {
    for (const args of [['--authority', 'api.test:80', '--method', 'GET'], ['--authority', 'api.test'], ['--authority', 'api.test:http'], ['--authority', 'api.test:99999']]) {
      const s = one(await py('cart', args));
      assert.equal(s.status, 400, `${args.join(' ')}: ${JSON.stringify(s)}`);
    }
    // A space is not a legal :authority character: the HTTP/2 codec resets the stream
    // (PROTOCOL_ERROR), as Envoy's does, before any handler sees it.
    assert.equal(one(await py('cart', ['--authority', 'a b:80'])).reset, 1);
  });

  test('unknown hosts get the router\'s refusal (502 NR), not a hang', async () => {
    const s = one(await py('cart', ['--authority', 'example.org:443']));
    assert.equal(s.status, 502);
    assert.match(s.data, /not in the registry/);
  });

  test('bad peers are refused at the handshake; the listener keeps serving', async () => {
    for (const [who, extra] of [[null, []], ['rogue', []], ['expired', []], ['cart', ['--tls12']]] as const) {
      const r = await py(who, ['--authority', 'raw.test:9000', '--send', 'x', '--expect', 'x', ...extra]);
      assert.ok(r.error, `${who ?? 'no cert'} ${extra.join(' ')}: expected a TLS failure, got ${JSON.stringify(r)}`);
    }
    const nospiffe = one(await py('nospiffe', ['--authority', 'raw.test:9000']));
    assert.equal(nospiffe.status, 401);
    const s = one(await py('cart', ['--authority', 'raw.test:9000', '--send', 'still here', '--expect', 'still here']));
    assert.equal(s.data, 'still here');
  });

  test('principal policy over HBONE: cart allowed, web denied; metrics carry the principal and mutual_tls', async () => {
    const cart = one(await py('cart', ['--authority', 'payments.test:80', '--send', GET('payments.test', '/charge-cart')]));
    assert.match(cart.data, /^HTTP\/1\.1 200 /);
    const web = one(await py('web', ['--authority', 'payments.test:80', '--send', GET('payments.test', '/charge-web')]));
    assert.match(web.data, /^HTTP\/1\.1 403 /);
    assert.match(web.data, /RBAC: access denied/);
    const text = await (await fetch(`${m.wp.statsUrl}/stats/prometheus`)).text();
    assert.match(text, /istio_requests_total\{[^}]*response_code="200"[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart"[^}]*connection_security_policy="mutual_tls"[^}]*destination_service="payments\.test"|istio_requests_total\{(?=[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/cart")(?=[^}]*connection_security_policy="mutual_tls")(?=[^}]*destination_service_name="payments\.test")[^}]*\}/);
    assert.match(text, /istio_requests_total\{(?=[^}]*response_code="403")(?=[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web")(?=[^}]*connection_security_policy="mutual_tls")[^}]*\}/);
  });
});
