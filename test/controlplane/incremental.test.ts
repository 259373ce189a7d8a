// Incremental reloads (issue 16), the cross-resource cases: FileSource re-reads only the file the
// watcher names and compiles with its memo; after each change the served snapshot and diagnostics
// must equal a build from nothing (no cache) of the same files. Real files, one per resource.
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildSnapshot, FileSource } from '../../src/controlplane/file-source.ts';
import { SnapshotStore } from '../../src/controlplane/store.ts';
import { canonical } from '../helpers/canonical.ts';
import { authorizationPolicy, serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';

const se = (name: string, host: string) => serviceEntry(name, `hosts: [${host}]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS`);
const vs = (name: string, host: string, to: string) =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${name}, namespace: istio-egress}\nspec:\n  hosts: [${host}]\n  http: [{route: [{destination: {host: ${to}}}]}]\n`;

describe('incremental reload equals a full build', () => {
  let dir: TmpDir;
  const store = new SnapshotStore();
  let source: FileSource;
  const file = (name: string) => join(dir.path, `${name}.yaml`);
  /** Writes (or with undefined, deletes) one file, reloads with that file as the only hint, compares. */
  async function change(name: string, text: string | undefined) {
    if (text === undefined) await rm(file(name));
    else await writeFile(file(name), text);
    const r = await source.reload([file(name)]);
    const full = await buildSnapshot([dir.path], {});
    assert.equal(r.ok, full.snapshot !== undefined);
    assert.equal(canonical(r.diagnostics), canonical(full.diagnostics));
    if (full.snapshot) assert.equal(canonical(store.current()), canonical(full.snapshot));
    return store.current();
  }

  before(async () => {
    dir = await tmpDir();
    await writeFile(file('waypoint'), WAYPOINT_YAML);
    await writeFile(file('se-other'), se('other', 'other.test'));
    source = new FileSource(store, [dir.path], {}, () => {});
    assert.equal((await source.reload()).ok, true);
  });
  after(() => dir.close());

  test('a VirtualService for a host whose ServiceEntry comes later applies once the entry arrives', async () => {
    let snap = await change('vs-a', vs('vs-a', 'a.test', 'a.test'));
    assert.equal(snap.hosts.exact.has('a.test'), false);
    snap = await change('se-a', se('a', 'a.test'));
    assert.match(snap.routes.get('inbound-vip|80|http|a.test')?.source ?? '', /VirtualService istio-egress\/vs-a/);
  });

  test('a route to another host follows that host: it resolves once the host is served, and stops when it goes', async () => {
    let snap = await change('vs-a', vs('vs-a', 'a.test', 'b.test'));
    assert.equal(JSON.stringify(snap.routes.get('inbound-vip|80|http|a.test')).includes('inbound-vip|80|http|b.test'), false);
    snap = await change('se-b', se('b', 'b.test'));
    assert.equal(JSON.stringify(snap.routes.get('inbound-vip|80|http|a.test')).includes('inbound-vip|80|http|b.test'), true);
    snap = await change('se-b', undefined);
    assert.equal(JSON.stringify(snap.routes.get('inbound-vip|80|http|a.test')).includes('inbound-vip|80|http|b.test'), false);
  });

  test('an AuthorizationPolicy on the waypoint reaches every host, and leaves every host when deleted', async () => {
    const wide = authorizationPolicy('wide', 'x', 'action: DENY\nrules: [{to: [{operation: {ports: ["80"], paths: ["/admin"]}}]}]')
      .replace('targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: x}]', 'targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: waypoint}]');
    let snap = await change('ap-wide', wide);
    for (const key of ['istio-egress/a', 'istio-egress/other']) assert.equal(snap.authz.services.get(key)?.deny[0]?.name, 'wide');
    snap = await change('ap-wide', undefined);
    for (const key of ['istio-egress/a', 'istio-egress/other']) assert.equal(snap.authz.services.get(key)?.deny.length ?? 0, 0);
  });

  test("deleting a host's only ServiceEntry removes its clusters and routes; its VirtualService stays and applies again when it returns", async () => {
    let snap = await change('se-a', undefined);
    assert.equal(snap.hosts.exact.has('a.test'), false);
    assert.equal([...snap.routes.keys()].some((k) => k.endsWith('|a.test')), false);
    snap = await change('se-a', se('a', 'a.test'));
    assert.equal(snap.routes.has('inbound-vip|80|http|a.test'), true);
  });

  test('in a file of several documents, the unchanged ones keep their positions when an earlier one grows or shrinks', async () => {
    // ap-missing targets a ServiceEntry that does not exist: a warning naming its line.
    const missing = authorizationPolicy('missing', 'nowhere', 'action: DENY\nrules: [{to: [{operation: {ports: ["80"], paths: ["/x"]}}]}]');
    const first = (extra: string) => authorizationPolicy('first', 'a', `action: DENY\nrules:\n${extra}- to: [{operation: {ports: ["80"], paths: ["/y"]}}]`);
    await change('multi', first('') + missing);
    await change('multi', first('- to: [{operation: {ports: ["80"], paths: ["/z"]}}]\n') + missing);
    const r = await source.reload([file('multi')]);
    const warning = r.diagnostics.find((d) => d.resource?.name === 'missing');
    assert.ok(warning?.line, 'the missing target is reported with a line');
    await change('multi', first('') + missing);
    await change('multi', undefined);
  });

  test('a file that breaks is refused and the last good snapshot stays; fixing it reloads', async () => {
    const before = store.current().version;
    const same = await source.reload([file('se-a')]);
    assert.deepEqual([same.ok, same.changed], [true, false]);
    await writeFile(file('se-a'), 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a, namespace: istio-egress}\nspec: {hosts: [a.test], ports: [{number: x}]}\n');
    assert.equal((await source.reload([file('se-a')])).ok, false);
    assert.equal(store.current().version, before);
    await change('se-a', se('a', 'a.test'));
    assert.equal(store.current().version, before);
  });
});
