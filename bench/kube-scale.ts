// Issue 12's scale figures for `run --kubernetes`, against the test harness's real etcd + kube-apiserver
// (not part of npm test; run it alone: `nice -n 10 ./node_modules/.bin/node bench/kube-scale.ts [N]`).
// N (default 1000) ServiceEntries + N AuthorizationPolicies + N VirtualServices are applied with kubectl;
// it prints: process start -> ready with --kubernetes and with the same objects from a folder, p50/p99
// from one `kubectl apply` to its effect on traffic, and the waypoint's RSS in both modes.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { installCrds, kubePeersMissing, startKube } from '../test/helpers/kube.ts';
import { authorizationPolicy, loopbackEntry, WAYPOINT_YAML } from '../test/helpers/inprocess.ts';
import { fetchVia } from '../test/helpers/proxy-fetch.ts';
import { startHttpUpstream } from '../test/helpers/upstream.ts';
import { startWaypoint, type Waypoint } from '../test/helpers/waypoint.ts';

const N = Number(process.argv[2] ?? 1000);
const ROUNDS = Number(process.argv[3] ?? 40);
const missing = kubePeersMissing();
if (missing) {
  console.log(`kube-scale: ${missing}`);
  process.exit(0);
}

async function rssMiB(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const kube = await startKube();
const up = await startHttpUpstream();
try {
  await installCrds(kube);
  await kube.kubectl(['create', 'namespace', 'istio-egress']);
  const docs = [WAYPOINT_YAML];
  for (let i = 0; i < N; i++) {
    docs.push(loopbackEntry(`svc-${i}`, up.port));
    docs.push(authorizationPolicy(`ap-${i}`, `svc-${i}`, `action: DENY\nrules: [{to: [{operation: {paths: ["/deny-${i}"]}}]}]`));
    docs.push(`---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs-${i}, namespace: istio-egress}\nspec:\n  hosts: [svc-${i}.test]\n  http: [{timeout: 5s, route: [{destination: {host: svc-${i}.test}}]}]\n`);
  }
  const yaml = docs.join('\n');
  const folder = join(kube.dir, 'config');
  await mkdir(folder);
  await writeFile(join(folder, 'all.yaml'), yaml);
  const t0 = performance.now();
  await kube.kubectl(['apply', '--server-side', '-f', join(folder, 'all.yaml')]);
  console.log(`objects: ${N} ServiceEntries + ${N} AuthorizationPolicies + ${N} VirtualServices; kubectl apply of all: ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const measure = async (label: string, args: string[]): Promise<Waypoint> => {
    const s = performance.now();
    const wp = await startWaypoint({ configDir: '', args: [...args, '--access-log', 'off'], startTimeoutMs: 180_000 });
    const ready = performance.now() - s;
    const st = (await fetchVia(wp.proxyUrl, `http://svc-${N - 1}.test/deny-${N - 1}`, {}, { tunnel: false })).status;
    console.log(`${label}: process start -> ready ${ready.toFixed(0)} ms; last object in force: ${st === 403 ? 'yes' : `NO (${st})`}; RSS ${(await rssMiB(wp.pid)).toFixed(0)} MiB`);
    return wp;
  };
  const files = await measure('files     ', ['--config', folder]);
  await files.close();
  const wp = await measure('kubernetes', ['--kubernetes', '--kubeconfig', kube.kubeconfig]);

  // One change per round: an AuthorizationPolicy's denied path moves, and the clock runs from the
  // start of `kubectl apply` until the proxy answers the new path with 403.
  const lat: number[] = [];
  /** From `kubectl apply` returning (the object is stored) to the effect: the waypoint's own share. */
  const stored: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const i = r % N;
    const path = `/moved-${r}`;
    const s = performance.now();
    await kube.kubectl(['apply', '-f', '-'], authorizationPolicy(`ap-${i}`, `svc-${i}`, `action: DENY\nrules: [{to: [{operation: {paths: ["${path}"]}}]}]`));
    const applied = performance.now();
    for (;;) {
      const st = (await fetchVia(wp.proxyUrl, `http://svc-${i}.test${path}`, {}, { tunnel: false }).catch(() => ({ status: 0 }))).status;
      if (st === 403) break;
      if (performance.now() - s > 30_000) throw new Error(`round ${r}: no effect after 30 s`);
      await new Promise((res) => setTimeout(res, 5));
    }
    lat.push(performance.now() - s);
    stored.push(performance.now() - applied);
    if ((r + 1) % 20 === 0) console.log(`  after ${r + 1} changes: RSS ${(await rssMiB(wp.pid)).toFixed(0)} MiB`);
  }
  console.log(`kubectl apply -> effect over ${ROUNDS} rounds: p50 ${pct(lat, 50).toFixed(0)} ms, p99 ${pct(lat, 99).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms (includes kubectl's own start)`);
  console.log(`kubectl apply returned -> effect: p50 ${pct(stored, 50).toFixed(0)} ms, p99 ${pct(stored, 99).toFixed(0)} ms, max ${Math.max(...stored).toFixed(0)} ms (the waypoint's share: watch event, parse, compile, swap)`);
  const kc: number[] = [];
  for (let r = 0; r < 10; r++) {
    const s = performance.now();
    await kube.kubectl(['get', 'authorizationpolicy', 'ap-0', '-n', 'istio-egress']);
    kc.push(performance.now() - s);
  }
  console.log(`for scale: one \`kubectl get\` of one object takes p50 ${pct(kc, 50).toFixed(0)} ms here`);
  console.log(`kubernetes RSS after the rounds: ${(await rssMiB(wp.pid)).toFixed(0)} MiB`);
  await wp.close();
} finally {
  await up.close();
  await kube.close();
}
