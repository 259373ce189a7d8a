// Issue 5: what a 20-rule VirtualService costs the waypoint. Two hosts on one upstream process:
//
//   none   no route object: the waypoint default route
//   vs20   a VirtualService with 20 http rules, and the benchmark request matches only the last
//          (a catch-all), so every request walks 19 non-matching rules: uri prefixes, exact and
//          regex paths, header, query and method matches (the worst case for first-match-wins)
//
// For each: saturation req/s, paced p99, and the waypoint's CPU-s per 1000 requests.
//
//   node bench/route-bench.ts [--duration 10] [--warmup 2] [--connections 50] [--rate 1000]
//                             [--size N] [--access-log off|json] [--egressway-root DIR]
import {
  GATEWAY_YAML, HOST, NAMESPACE, serviceEntryYaml, sizeQuery, startUpstream, startWaypoint, writeConfig,
} from './lib/egressway.ts';
import { runPhases, type Endpoint } from './lib/measure.ts';
import { countingCheck, delta, quiet, table, times, variantMarkdown, variantsTrustworthy, type Check, type VariantResult } from './lib/report.ts';
import { beginRun, finishRun, main, optionalInt, parseOptions, type CommonOptions } from './lib/run.ts';

const ROUTED_HOST = `routed.${HOST}`;
const RULES = 20;

interface Options extends CommonOptions {
  readonly size: number | undefined;
}

/** Nineteen rules that miss `GET /` in different ways, then a catch-all to the same host. */
function virtualServiceYaml(): string {
  const misses = [
    (i: number) => `{uri: {prefix: /api/v${i}/}}`,
    (i: number) => `{uri: {exact: /exact/${i}}}`,
    (i: number) => `{uri: {regex: "/re/${i}/[a-z]+/[0-9]+"}}`,
    (i: number) => `{headers: {x-tenant: {exact: t${i}}}}`,
    (i: number) => `{queryParams: {v: {exact: "${i}"}}, method: {exact: POST}}`,
  ];
  const rules: string[] = [];
  for (let i = 0; i < RULES - 1; i++) {
    rules.push(`  - name: miss-${i}\n    match: [${misses[i % misses.length]!(i)}]\n    route: [{destination: {host: ${ROUTED_HOST}}}]`);
  }
  rules.push(`  - name: catch-all\n    route: [{destination: {host: ${ROUTED_HOST}}}]`);
  return `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bench-routes, namespace: ${NAMESPACE}}
spec:
  hosts: [${ROUTED_HOST}]
  http:
${rules.join('\n')}
`;
}

function report(o: Options, results: readonly VariantResult[]): { text: string; checks: Check[] } {
  const [none, vs] = results as [VariantResult, VariantResult];
  const cpu = (r: VariantResult): number => r.paced.cpuSPer1k.egressway!;
  const summary = table(
    ['routes', 'req/s (saturation):', `p99 ms at ${o.rate} rps:`, `waypoint CPU-s / 1k req at ${o.rate} rps:`, 'at saturation:'],
    results.map((r) => [r.variant, r.saturation.load.rps.toFixed(0), r.paced.load.p99Ms.toFixed(2), cpu(r).toFixed(3),
      r.saturation.cpuSPer1k.egressway!.toFixed(3)]),
  );
  const checks: Check[] = [countingCheck(results)];
  const text = variantMarkdown({
    intro: [`${o.size === undefined ? 'small' : `${o.size}-byte`} response body; the vs20 request matches rule ${RULES} of ${RULES}.`],
    summary, results, watched: ['egressway'], checks,
    comparisons: [
      `${RULES}-rule VirtualService: req/s ${times(vs.saturation.load.rps, none.saturation.load.rps)} of none, `
        + `waypoint CPU-s / 1k req ${delta(cpu(vs) - cpu(none), 3)} (${times(cpu(vs), cpu(none))}), `
        + `p99 ${delta(vs.paced.load.p99Ms - none.paced.load.p99Ms, 2)} ms`
        + `${quiet(none.saturation, vs.saturation, none.paced, vs.paced) ? '' : ' (unreliable: other load)'}`,
    ],
  });
  return { text, checks };
}

main('route-bench', async () => {
  const { common, values } = parseOptions({ size: { type: 'string' } });
  const o: Options = { ...common, size: optionalInt(values, 'size', 0) };
  const run = await beginRun();
  const upstream = await startUpstream(run.runDir);
  const port = upstream.listeners.http!.split(':')[1]!;
  const yaml = GATEWAY_YAML
    + serviceEntryYaml({ name: 'bench-plain', host: HOST, port: 80, targetPort: port })
    + serviceEntryYaml({ name: 'bench-routed', host: ROUTED_HOST, port: 80, targetPort: port })
    + virtualServiceYaml();
  const egressway = await startWaypoint(o, run.runDir, writeConfig(run.runDir, 'config', yaml));
  const via = (host: string): Endpoint => ({ connect: egressway.listeners.proxy!, requestTarget: `http://${host}/${sizeQuery(o.size)}`, hostHeader: host });
  const results: VariantResult[] = [];
  for (const [name, ep] of [['none', via(HOST)], ['vs20', via(ROUTED_HOST)]] as const) {
    results.push({ variant: name, ...await runPhases(name, o, upstream, ep, [{ name: 'egressway', pid: egressway.pid }]) });
  }
  const { text, checks } = report(o, results);
  finishRun('route', run, o, text, { results, checks }, variantsTrustworthy(results) && checks.every((c) => c.pass));
});
