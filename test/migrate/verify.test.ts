// `migrate --verify` must be able to fail: for each kind of loss the old migrate had, its real output
// (test/fixtures/migrate-lossy/, written by migrate before the fix) is replayed against the input's
// sidecar-era semantics and must differ on the request that lost something, while the fixed migrate's
// output agrees on every request.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadForTools } from '../../src/analyze/load.ts';
import { migrate } from '../../src/migrate/migrate.ts';
import { formatReport } from '../../src/migrate/report.ts';
import { verify } from '../../src/migrate/verify.ts';

const LOSSES: { pattern: string; loss: string; target: string; old: RegExp; now: RegExp }[] = [
  { pattern: 'sidecar-tls-origination', loss: 'sidecar TLS origination dropped (no targetPort, no DestinationRule)', target: 'edition.cnn.com:80', old: /^allow https:\/\/edition\.cnn\.com:443$/, now: /^allow http:\/\/edition\.cnn\.com:80$/ },
  { pattern: 'sidecar-mtls-origination', loss: 'sidecar MUTUAL origination with a Secret dropped', target: 'api.partner.example:80', old: /^allow mtls:\/\/api\.partner\.example:443 client-cert=secret:partner-client-credential$/, now: /^allow http:\/\/api\.partner\.example:80$/ },
  { pattern: 'egress-gateway-mtls-origination', loss: 'MUTUAL became SIMPLE, client certificate, key and CA gone', target: 'my-nginx.example.com:80', old: /^allow mtls:\/\/my-nginx\.example\.com:443 client-cert=files:/, now: /^allow https:\/\/my-nginx\.example\.com:443$/ },
  { pattern: 'gateway-api-egress', loss: 'Gateway API egress route skipped, its timeout lost', target: 'edition.cnn.com:80', old: /timeout=3000ms$/, now: /^allow http:\/\/edition\.cnn\.com:80$/ },
  { pattern: 'wildcard-single-host', loss: 'wildcard routed to one fixed host lost that destination', target: 'probe.wikipedia.org:443', old: /^allow tls:\/\/www\.wikipedia\.org:443$/, now: /^allow tls:\/\/probe\.wikipedia\.org:443$/ },
];

for (const l of LOSSES) {
  test(`verify fails on the old migrate's output: ${l.loss}`, async () => {
    const input = await loadForTools([join('test/fixtures/migrate', l.pattern)]);
    const lossy = await loadForTools([join('test/fixtures/migrate-lossy', `${l.pattern}.yaml`)]);
    const rows = verify(input.resources, lossy.resources);
    const row = rows.find((r) => r.target === l.target && !r.same);
    assert.ok(row, `expected a differing row for ${l.target}:\n${rows.map((r) => `${r.same ? 'same' : 'DIFF'} ${r.target} old ${r.old} new ${r.now}`).join('\n')}`);
    assert.match(row.old, l.old);
    assert.match(row.now, l.now);
  });

  test(`the fixed migrate keeps it: ${l.loss}`, async () => {
    const input = await loadForTools([join('test/fixtures/migrate', l.pattern)]);
    const result = migrate(input.resources, { verify: true });
    assert.ok(result.verify!.some((r) => r.target === l.target), formatReport(result));
    assert.ok(result.verify!.every((r) => r.same), formatReport(result));
  });
}

test('a DestinationRule with no ServiceEntry is carried over and reported, not dropped in silence', async () => {
  const input = await loadForTools(['test/fixtures/migrate/dr-without-serviceentry']);
  const before = await loadForTools(['test/fixtures/migrate-lossy/dr-without-serviceentry.yaml']);
  assert.ok(!before.resources.some((r) => r.kind === 'DestinationRule'), 'the old output lost it');
  const result = migrate(input.resources, {});
  assert.match(result.yaml, /kind: DestinationRule\n(.*\n)*\s+name: api-example-pool/);
  assert.ok(result.warnings.some((w) => w.what === 'DestinationRule default/api-example-pool' && w.why.includes('no ServiceEntry declares api.example.com')));
});

test('verify compares against the old semantics, not the migration: a denied caller stays denied', async () => {
  const input = await loadForTools(['test/fixtures/migrate/egress-authz']);
  const result = migrate(input.resources, { verify: true });
  const outsider = result.verify!.find((r) => r.caller.includes('not-listed'))!;
  assert.match(outsider.old, /^deny/);
  // Drop the AuthorizationPolicy from the output: the outsider is let in, and verify says so.
  const open = (await loadForTools(['test/fixtures/migrate/egress-authz'])).resources;
  const output = migrate(open, {}).yaml;
  const { parseDocuments } = await import('../../src/config/parse.ts');
  const withoutPolicy = parseDocuments(output, 'out.yaml').resources.filter((r) => r.kind !== 'AuthorizationPolicy');
  const rows = verify(input.resources, withoutPolicy);
  assert.ok(rows.some((r) => r.caller.includes('not-listed') && !r.same && r.now.startsWith('allow')));
});
