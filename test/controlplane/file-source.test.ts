// Regression (issue 11): the file watcher reloaded on a change to ANY file in a config directory, so
// a log file kept next to the YAML made the waypoint reload and log "config loaded" ten times a
// second, forever. It now reloads only for files the loader reads, and an unchanged snapshot does
// nothing (no swap, no report). Real files and the real fs watcher.
import assert from 'node:assert/strict';
import { appendFile, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { FileSource, type ReloadResult } from '../../src/controlplane/file-source.ts';
import { SnapshotStore } from '../../src/controlplane/store.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { tmpDir, type TmpDir } from '../helpers/tmp.ts';

const se = (name: string) => serviceEntry(name, `hosts: [${name}.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS`);
// The debounce waits for 100 ms of quiet; this is comfortably past one debounced reload.
const SETTLE_MS = 600;

async function until(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); await sleep(20)) if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
}

describe('file watcher', () => {
  let dir: TmpDir;
  let source: FileSource;
  const store = new SnapshotStore();
  const reports: ReloadResult[] = [];
  let swaps = 0;
  before(async () => {
    dir = await tmpDir();
    await writeFile(join(dir.path, 'config.yaml'), WAYPOINT_YAML + se('api'));
    store.onSwap(() => swaps++);
    source = new FileSource(store, [dir.path], {}, (r) => reports.push(r));
    assert.equal((await source.reload()).ok, true);
    await source.watch();
  });
  after(async () => {
    source.close();
    await dir.close();
  });

  test('a log file written next to the YAML never reloads', async () => {
    const start = reports.length;
    const startSwaps = swaps;
    for (let i = 0; i < 20; i++) {
      await appendFile(join(dir.path, 'waypoint.log'), `line ${i}\n`);
      await writeFile(join(dir.path, 'notes.txt'), `n ${i}`);
      await writeFile(join(dir.path, '.config.yaml.swp'), `swap ${i}`);
      await sleep(40);
    }
    await rm(join(dir.path, 'notes.txt'));
    await sleep(SETTLE_MS);
    assert.equal(reports.length, start, JSON.stringify(reports.slice(start)));
    assert.equal(swaps, startSwaps);
  });

  test('saving the YAML unchanged reports nothing and swaps nothing', async () => {
    const start = reports.length;
    const startSwaps = swaps;
    const version = store.current().version;
    await writeFile(join(dir.path, 'config.yaml'), WAYPOINT_YAML + se('api'));
    await sleep(SETTLE_MS);
    assert.equal(reports.length, start);
    assert.equal(swaps, startSwaps);
    assert.equal(store.current().version, version);
    // The same holds when reload() is called directly (what SIGHUP does): changed is false.
    const r = await source.reload();
    assert.deepEqual({ ok: r.ok, changed: r.changed, version: r.version }, { ok: true, changed: false, version });
    assert.equal(reports.length, start);
  });

  test('a changed YAML reloads once, and a new .yml file is read', async () => {
    const start = reports.length;
    await writeFile(join(dir.path, 'config.yaml'), WAYPOINT_YAML + se('api') + se('two'));
    await until(() => reports.length > start, 'a reload of config.yaml');
    await sleep(SETTLE_MS);
    assert.equal(reports.length, start + 1);
    assert.equal(reports.at(-1)!.changed, true);
    assert.ok(store.current().services.some((s) => s.hosts.includes('two.test')));
    await writeFile(join(dir.path, 'three.yml'), se('three'));
    await until(() => store.current().services.some((s) => s.hosts.includes('three.test')), 'three.yml to be read');
  });

  test('a folder of YAML moved into the directory is read', async () => {
    const outside = await tmpDir();
    try {
      await mkdir(join(outside.path, 'sub'));
      await writeFile(join(outside.path, 'sub', 'four.yaml'), se('four'));
      await rename(join(outside.path, 'sub'), join(dir.path, 'sub'));
      await until(() => store.current().services.some((s) => s.hosts.includes('four.test')), 'sub/four.yaml to be read');
    } finally {
      await outside.close();
    }
  });

  // Regression: Node's recursive watch on Linux follows a file's inode, so once a file was replaced
  // by a rename (sed -i, vim, git checkout) nothing more was reported for it: later edits and its
  // removal were never read, and a deleted ServiceEntry stayed routable until SIGHUP.
  test('a file replaced by a rename is still watched: later edits, another rename and its removal are read', async () => {
    const has = (h: string) => store.current().services.some((s) => s.hosts.includes(`${h}.test`));
    const file = join(dir.path, 'sub2', 'five.yaml');
    await mkdir(join(dir.path, 'sub2'));
    await writeFile(file, se('five'));
    await until(() => has('five'), 'sub2/five.yaml to be read');
    for (const [i, next] of ['six', 'seven'].entries()) {
      await writeFile(join(dir.path, 'sub2', `sedtmp${i}`), se('five') + se(next));
      await rename(join(dir.path, 'sub2', `sedtmp${i}`), file);
      await until(() => has(next), `${next}.test after rename ${i + 1}`);
    }
    await writeFile(file, se('five') + se('eight'));
    await until(() => has('eight') && !has('seven'), 'an in-place edit after the renames');
    await rm(file);
    await until(() => !has('five'), 'the removal of sub2/five.yaml');
    await rm(join(dir.path, 'sub2'), { recursive: true });
  });

  test('a Kubernetes ConfigMap swap (..data symlink renamed over) is read', async () => {
    const has = (h: string) => store.current().services.some((s) => s.hosts.includes(`${h}.test`));
    const cm = join(dir.path, 'cm');
    await mkdir(join(cm, '..2026_a'), { recursive: true });
    await writeFile(join(cm, '..2026_a', 'se.yaml'), se('nine'));
    await symlink('..2026_a', join(cm, '..data'));
    await symlink(join('..data', 'se.yaml'), join(cm, 'se.yaml'));
    await until(() => has('nine'), 'the mounted ConfigMap');
    await mkdir(join(cm, '..2026_b'));
    await writeFile(join(cm, '..2026_b', 'se.yaml'), se('ten'));
    await symlink('..2026_b', join(cm, '..data_tmp'));
    await rename(join(cm, '..data_tmp'), join(cm, '..data'));
    await until(() => has('ten') && !has('nine'), 'the swapped ConfigMap');
    await rm(cm, { recursive: true });
    await until(() => !has('ten'), 'the ConfigMap folder removed');
  });

  test('a failed reload, then the same good config again, reports the recovery', async () => {
    const good = WAYPOINT_YAML + se('api') + se('two');
    await rm(join(dir.path, 'three.yml'));
    await rm(join(dir.path, 'sub'), { recursive: true });
    await until(() => !store.current().services.some((s) => s.hosts.includes('four.test')), 'sub/ removal to be read');
    const version = store.current().version;
    await writeFile(join(dir.path, 'config.yaml'), `${good}---\nkind: ServiceEntry\n`);
    await until(() => store.lastReload?.ok === false, 'the broken file to be refused');
    const start = reports.length;
    await writeFile(join(dir.path, 'config.yaml'), good);
    await until(() => reports.length > start, 'the recovery to be reported');
    assert.equal(reports.at(-1)!.ok, true);
    assert.equal(store.lastReload?.ok, true);
    assert.equal(store.current().version, version, 'the snapshot served all along');
  });
});
