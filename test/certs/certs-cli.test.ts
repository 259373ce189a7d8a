// `egressway certs init` and `certs issue` as an operator runs them: PEM files whose leaf chains to
// the CA and carries exactly the SPIFFE ID Istio would issue, with the requested lifetime.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const cli = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
  execFile(process.execPath, [MAIN, ...args], (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }));
});

describe('egressway certs', () => {
  let dir: TmpDir;
  before(async () => {
    dir = await tmpDir();
  });
  after(async () => dir?.close());

  test('init, then issue a workload and a waypoint certificate', async () => {
    const out = dir.path;
    assert.equal((await cli(['certs', 'init', '--trust-domain', 'mesh.example', '--out', out])).code, 0);
    const again = await cli(['certs', 'init', '--out', out]);
    assert.notEqual(again.code, 0, 'an existing CA is not overwritten without --force');
    assert.match(again.stderr, /--force/);
    const cart = await cli(['certs', 'issue', '--ca', out, '--ns', 'shop', '--sa', 'cart', '--out', out, '--ttl', '2h']);
    assert.equal(cart.code, 0, cart.stderr);
    assert.equal((await cli(['certs', 'issue', '--ca', out, '--waypoint', 'istio-egress/waypoint', '--out', out])).code, 0);
    const ca = new X509Certificate(await readFile(join(out, 'ca.pem')));
    for (const [file, id, hours] of [['cart', 'spiffe://mesh.example/ns/shop/sa/cart', 2], ['waypoint', 'spiffe://mesh.example/ns/istio-egress/sa/waypoint', 24]] as const) {
      const leaf = new X509Certificate(await readFile(join(out, `${file}.crt`)));
      assert.equal(leaf.subjectAltName, `URI:${id}`);
      assert.ok(leaf.verify(ca.publicKey), `${file} is signed by the CA`);
      const ttl = (Date.parse(leaf.validTo) - Date.now()) / 3_600_000;
      assert.ok(ttl > hours - 0.1 && ttl <= hours, `${file} lives ${hours}h, got ${ttl.toFixed(2)}h`);
      assert.equal((await stat(join(out, `${file}.key`))).mode & 0o777, 0o600);
    }
  });

  test('bad input names the fix', async () => {
    const r = await cli(['certs', 'issue', '--ca', dir.path, '--out', dir.path, '--ns', 'Shop', '--sa', 'cart']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not a valid namespace/);
    const none = await cli(['certs', 'issue', '--ca', dir.path, '--out', dir.path]);
    assert.match(none.stderr, /--ns <namespace> --sa <serviceaccount>, or --waypoint/);
  });
});
