// Issue 4: what AuthorizationPolicies that cannot apply cost. Policies are indexed by target when the
// config is compiled (src/compile/policies.ts), so a request to one ServiceEntry should pay nothing
// for policies on other ServiceEntries. Three configs, each with the same 11 ServiceEntries (the
// bench upstream and 10 others):
//
//   0       no AuthorizationPolicy at all
//   10      10 policies on the other entries, plus one ALLOW on the upstream that matches the bench request
//   1000    1,000 policies on the other entries, plus the same ALLOW on the upstream
//
// For each: decide() alone in ns/op (in this process, on the checkout's own compile of the same
// config), then Egressway end to end (saturation req/s, paced p99, CPU-s per 1000 requests).
// 0 -> 10 adds the one policy that does apply; 10 -> 1000 is the comparison that shows the index.
//
//   node bench/policy-bench.ts [--duration 10] [--warmup 2] [--connections 50] [--rate 1000]
//                              [--size N] [--micro-seconds 2] [--access-log off|json] [--egressway-root DIR]
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  GATEWAY_YAML, HOST, importFromRoot, NAMESPACE, serviceEntryYaml, sizeQuery, startUpstream, startWaypoint, writeConfig,
} from './lib/egressway.ts';
import { runPhases } from './lib/measure.ts';
import { otherCpuShare, sampleMachine, stopProcess, type Server } from './lib/processes.ts';
import {
  countingCheck, OTHER_CPU_WARN, quiet, table, times, variantMarkdown, variantsTrustworthy, type Check, type VariantResult,
} from './lib/report.ts';
import { beginRun, finishRun, intOption, main, optionalInt, parseOptions, type CommonOptions } from './lib/run.ts';

const TARGET_ENTRY = 'bench-upstream';
const OTHER_ENTRIES = 10;
const POLICY_COUNTS = [0, 10, 1000] as const;
/** decide() at 1,000 other policies may cost this much more than at 10 and still count as flat. */
const MAX_DECIDE_GROWTH = 1.25;

interface Options extends CommonOptions {
  readonly size: number | undefined;
  readonly microSeconds: number;
}

/** A policy on another entry: never consulted for the bench upstream, so its content only has to be valid. */
function otherPolicy(i: number): string {
  const action = i % 3 === 1 ? 'DENY' : 'ALLOW';
  return `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-${i}, namespace: ${NAMESPACE}}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: other-${i % OTHER_ENTRIES}}]
  action: ${action}
  rules:
  - from: [{source: {principals: ["cluster.local/ns/team-${i}/sa/*"], notIpBlocks: [10.${i % 250}.0.0/16]}}]
    to: [{operation: {methods: [GET, POST], paths: ["/v${i}/*", "/api/${i}/{*}/items"]}}]
    when: [{key: "request.headers[x-tenant]", values: ["tenant-${i}"]}]
`;
}

/** The one policy on the bench upstream: ALLOW that matches the bench's GET, so every request is decided and allowed. */
const TARGET_ALLOW = `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-bench, namespace: ${NAMESPACE}}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: ${TARGET_ENTRY}}]
  action: ALLOW
  rules:
  - to: [{operation: {methods: [GET], paths: ["/*"]}}]
`;

function configYaml(upstreamPort: string, others: number): string {
  const entries = [serviceEntryYaml({ name: TARGET_ENTRY, host: HOST, port: upstreamPort })];
  for (let i = 0; i < OTHER_ENTRIES; i++) entries.push(serviceEntryYaml({ name: `other-${i}`, host: `other-${i}.bench.test`, port: 80 }));
  const policies = others === 0 ? [] : [TARGET_ALLOW, ...Array.from({ length: others }, (_, i) => otherPolicy(i))];
  return GATEWAY_YAML + entries.join('') + policies.join('');
}

const variantName = (others: number): string => (others === 0 ? '0 policies' : `${others.toLocaleString('en-US')} other + 1 target`);

// The checkout under test provides the code; types come from this one.
type LoadModule = typeof import('../src/config/load.ts');
type CompileModule = typeof import('../src/compile/compile.ts');
type PlanModule = typeof import('../src/dataplane/plan.ts');
type AuthorizeModule = typeof import('../src/dataplane/authorize.ts');
type DecideModule = typeof import('../src/policy/decide.ts');

interface MicroResult {
  readonly nsPerOp: number;
  readonly ops: number;
  /** Policies compiled from the config, and those in the set decide() reads for the upstream. */
  readonly compiledPolicies: number;
  readonly targetPolicies: number;
  readonly allow: boolean;
  readonly reason: string;
  /** Share of the machine's CPU that went to other processes while it ran. */
  readonly otherCpuShare: number;
}

/**
 * decide() as the data plane calls it for the bench request: the config is loaded and compiled by
 * the checkout's own code, the request built by authzRequest() once, then decide() runs in batches
 * for `microSeconds`; the result is the median batch. Also proves the config is what it claims.
 */
async function microDecide(o: Options, configDir: string, upstreamPort: number): Promise<MicroResult> {
  const { loadConfig } = await importFromRoot<LoadModule>(o, 'src/config/load.ts');
  const { compile } = await importFromRoot<CompileModule>(o, 'src/compile/compile.ts');
  const { planRoute } = await importFromRoot<PlanModule>(o, 'src/dataplane/plan.ts');
  const { authzRequest } = await importFromRoot<AuthorizeModule>(o, 'src/dataplane/authorize.ts');
  const { decide } = await importFromRoot<DecideModule>(o, 'src/policy/decide.ts');
  const loaded = await loadConfig([configDir]);
  const out = compile(loaded.resources);
  const errors = [...loaded.diagnostics, ...out.diagnostics].filter((d) => d.level === 'error');
  if (!out.snapshot || errors.length > 0) throw new Error(`config in ${configDir} does not compile: ${errors.map((d) => d.message).join('; ')}`);
  const snap = out.snapshot;
  const plan = planRoute(snap, HOST, upstreamPort, 'http');
  if (plan.kind !== 'forward') throw new Error(`${HOST}:${upstreamPort} does not route: ${plan.kind}`);
  const key = plan.destination.service.key;
  const req = authzRequest(snap, plan, {
    protocol: 'http', sourceIp: '127.0.0.1', identity: undefined, host: `${HOST}:${upstreamPort}`, port: upstreamPort,
    method: 'GET', path: '/', headers: { host: `${HOST}:${upstreamPort}`, 'user-agent': 'bench' },
  });
  const first = decide(snap.authz, key, req);
  const set = snap.authz.services.get(key) ?? snap.authz.waypoint;
  const targetPolicies = set.allow.length + set.deny.length + set.custom.length + set.audit.length + set.dryRunAllow.length + set.dryRunDeny.length;
  const BATCH = 10_000;
  const batchNs: number[] = [];
  let sink = 0;
  const runBatch = (): number => {
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) sink += decide(snap.authz, key, req).trace.length;
    return ((performance.now() - t0) * 1e6) / BATCH;
  };
  const machineBefore = sampleMachine();
  const warmUntil = performance.now() + Math.min(1000, o.microSeconds * 250);
  while (performance.now() < warmUntil) runBatch();
  const until = performance.now() + o.microSeconds * 1000;
  while (performance.now() < until || batchNs.length < 5) batchNs.push(runBatch());
  if (sink < 0) process.stderr.write(''); // keeps the calls observable to the optimiser
  batchNs.sort((a, b) => a - b);
  return {
    nsPerOp: batchNs[Math.floor(batchNs.length / 2)]!, ops: batchNs.length * BATCH,
    compiledPolicies: snap.authz.policies.length, targetPolicies, allow: first.allow, reason: first.reason,
    otherCpuShare: otherCpuShare(machineBefore, sampleMachine(), os.cpus().length),
  };
}

interface PolicyVariant extends VariantResult {
  readonly otherPolicies: number;
  readonly micro: MicroResult;
}

async function benchVariant(o: Options, runDir: string, upstream: Server, others: number): Promise<PolicyVariant> {
  const port = upstream.listeners.http!.split(':')[1]!;
  const name = variantName(others);
  const configDir = writeConfig(runDir, `config-${others}`, configYaml(port, others));
  process.stderr.write(`${name}: decide() micro-benchmark, ${o.microSeconds}s\n`);
  const micro = await microDecide(o, configDir, Number(port));
  const expected = others === 0 ? 0 : others + 1;
  if (micro.compiledPolicies !== expected || micro.targetPolicies !== (others === 0 ? 0 : 1) || !micro.allow) {
    throw new Error(`${name}: compiled ${micro.compiledPolicies} policies (${micro.targetPolicies} on the target, decision ${micro.reason}); expected ${expected} (${others === 0 ? 0 : 1}, allowed)`);
  }
  // One waypoint at a time, so an idle one does not share the machine with the one measured.
  const egressway = await startWaypoint(o, runDir, configDir, `egressway-${others}`);
  try {
    const ep = { connect: egressway.listeners.proxy!, requestTarget: `http://${HOST}:${port}/${sizeQuery(o.size)}`, hostHeader: `${HOST}:${port}` };
    const phases = await runPhases(name, o, upstream, ep, [{ name: 'egressway', pid: egressway.pid }]);
    return { variant: name, otherPolicies: others, micro, ...phases };
  } finally {
    await stopProcess(egressway.pid);
  }
}

function report(o: Options, results: readonly PolicyVariant[]): { text: string; checks: Check[] } {
  const by = (n: number): PolicyVariant => results.find((r) => r.otherPolicies === n)!;
  const [none, few, many] = [by(0), by(10), by(1000)];
  const cpu = (r: PolicyVariant): number => r.paced.cpuSPer1k.egressway!;
  const summary = table(
    ['config', 'policies compiled:', 'on the target:', 'decide() ns/op:', 'req/s (saturation):', `p99 ms at ${o.rate} rps:`, `CPU-s / 1k req at ${o.rate} rps:`],
    results.map((r) => [r.variant, String(r.micro.compiledPolicies), String(r.micro.targetPolicies), r.micro.nsPerOp.toFixed(0),
      r.saturation.load.rps.toFixed(0), r.paced.load.p99Ms.toFixed(2), cpu(r).toFixed(3)]),
  );
  const growth = many.micro.nsPerOp / few.micro.nsPerOp;
  const checks: Check[] = [
    { name: 'decide() ns/op, 1,000 vs 10 other policies', measured: times(many.micro.nsPerOp, few.micro.nsPerOp),
      goal: `<= ${MAX_DECIDE_GROWTH.toFixed(2)}×`, pass: growth <= MAX_DECIDE_GROWTH,
      quiet: many.micro.otherCpuShare <= OTHER_CPU_WARN && few.micro.otherCpuShare <= OTHER_CPU_WARN },
    countingCheck(results),
  ];
  const text = variantMarkdown({
    summary, results, watched: ['egressway'], checks,
    extraNoise: results.map((r) => ({ label: `${r.variant} decide()`, otherCpuShare: r.micro.otherCpuShare })),
    comparisons: [
      `1,000 vs 10 other policies: decide() ${times(many.micro.nsPerOp, few.micro.nsPerOp)}, `
        + `req/s ${times(many.saturation.load.rps, few.saturation.load.rps)}, CPU-s / 1k req ${times(cpu(many), cpu(few))}`
        + `${quiet(many.saturation, few.saturation, many.paced, few.paced) ? '' : ' (unreliable: other load)'}`,
      `10 other + 1 target vs 0 (the cost of the one policy that applies): decide() ${times(few.micro.nsPerOp, none.micro.nsPerOp)}, `
        + `CPU-s / 1k req ${times(cpu(few), cpu(none))}`,
      'With 0 policies the waypoint skips decide() altogether; its ns/op is what a call would cost.',
    ],
  });
  return { text, checks };
}

main('policy-bench', async () => {
  const { common, values } = parseOptions({ size: { type: 'string' }, 'micro-seconds': { type: 'string', default: '2' } });
  const o: Options = {
    ...common, size: optionalInt(values, 'size', 0),
    microSeconds: intOption('micro-seconds', values['micro-seconds']!, 1),
  };
  const run = await beginRun();
  const upstream = await startUpstream(run.runDir);
  const results: PolicyVariant[] = [];
  for (const n of POLICY_COUNTS) results.push(await benchVariant(o, run.runDir, upstream, n));
  const { text, checks } = report(o, results);
  finishRun('policy', run, o, text, { results, checks }, variantsTrustworthy(results));
});
