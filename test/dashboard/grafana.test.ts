// deploy/grafana/egressway-dashboard.json: every panel queries reporter="waypoint" per
// destination_service, and every expression parses (promtool check rules) when Prometheus is here.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/waypoint.ts';

interface Dashboard { panels: { title: string; targets: { expr: string }[] }[] }

async function exprs(): Promise<{ title: string; expr: string }[]> {
  const d = JSON.parse(await readFile(join(REPO_ROOT, 'deploy/grafana/egressway-dashboard.json'), 'utf8')) as Dashboard;
  return d.panels.flatMap((p) => p.targets.map((t) => ({ title: p.title, expr: t.expr })));
}

test('grafana dashboard: QPS, success rate and P99 per destination_service with reporter="waypoint"', async () => {
  const all = await exprs();
  assert.deepEqual(all.map((e) => e.title), ['QPS by destination_service', 'Success rate (non-5xx) by destination_service', 'P99 latency by destination_service']);
  for (const { expr } of all) {
    assert.match(expr, /reporter="waypoint"/);
    assert.match(expr, /by \(destination_service/);
  }
  assert.match(all[2]!.expr, /histogram_quantile\(0\.99, .*istio_request_duration_milliseconds_bucket/);
});

test('grafana dashboard expressions parse', { skip: existsSync('/usr/bin/promtool') ? false : 'promtool not installed' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'egw-graf-'));
  try {
    const rules = (await exprs()).map((e, i) => `      - record: egressway:panel_${i}\n        expr: '${e.expr.replaceAll('$destination_service', '.*').replaceAll("'", "''")}'`);
    await writeFile(join(dir, 'rules.yml'), `groups:\n  - name: grafana\n    rules:\n${rules.join('\n')}\n`);
    const out = await new Promise<{ code: number; text: string }>((resolve) => {
      execFile('/usr/bin/promtool', ['check', 'rules', join(dir, 'rules.yml')], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, text: stdout + stderr }));
    });
    assert.equal(out.code, 0, out.text);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
