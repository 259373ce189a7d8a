// Issue 6: the full HBONE path against the plain proxy path, through one waypoint.
//
//   plain  client -> waypoint proxy listener (15001) -> upstream
//   hbone  client -> `egressway agent` HTTP proxy -> HBONE (mTLS HTTP/2 CONNECT) -> waypoint (15008) -> upstream
//
// The client sends absolute-form GETs (as with HTTP_PROXY) and the upstream answers with `--size`
// bytes (1 KiB by default). Certificates come from `egressway certs init/issue` of the checkout under
// test. For each path: saturation req/s, p99 at the paced rate, and CPU-s per 1000 requests of the
// agent and of the waypoint, separately. Istio publishes about 0.25 vCPU per 1000 rps for its
// waypoint, i.e. 0.25 CPU-s per 1000 requests; the goal is half that for the waypoint on the HBONE path.
//
//   node bench/hbone-bench.ts [--duration 10] [--warmup 2] [--connections 50] [--rate 1000]
//                             [--size 1024] [--access-log off|json] [--egressway-root DIR]
import { join } from 'node:path';
import {
  cliPath, GATEWAY_YAML, HOST, NAMESPACE, serviceEntryYaml, sizeQuery, startAgent, startUpstream, startWaypoint, WAYPOINT,
  writeConfig,
} from './lib/egressway.ts';
import { runPhases, type Endpoint, type Watched } from './lib/measure.ts';
import { runToCompletion } from './lib/processes.ts';
import { countingCheck, delta, quiet, table, times, variantMarkdown, variantsTrustworthy, type Check, type VariantResult } from './lib/report.ts';
import { beginRun, finishRun, intOption, main, parseOptions, type CommonOptions } from './lib/run.ts';

/** Istio's published waypoint cost: about 0.25 vCPU per 1000 rps, i.e. CPU-s per 1000 requests. */
const ISTIO_WAYPOINT_CPU_S_PER_1K = 0.25;
const GOAL_CPU_S_PER_1K = ISTIO_WAYPOINT_CPU_S_PER_1K / 2;
const CLIENT_NS = 'bench';
const CLIENT_SA = 'client';

interface Options extends CommonOptions {
  readonly size: number;
}

interface Pki {
  readonly bundle: string;
  readonly waypoint: { readonly cert: string; readonly key: string };
  readonly client: { readonly cert: string; readonly key: string };
}

/** A mesh CA, the client's workload certificate and the waypoint's, via the CLI as a user makes them. */
async function makePki(o: Options, runDir: string): Promise<Pki> {
  const dir = join(runDir, 'pki');
  const certs = (...args: string[]): Promise<string> => runToCompletion(process.execPath, [cliPath(o), 'certs', ...args], 30_000);
  await certs('init', '--trust-domain', 'cluster.local', '--out', dir);
  await certs('issue', '--ca', dir, '--ns', CLIENT_NS, '--sa', CLIENT_SA, '--out', dir);
  await certs('issue', '--ca', dir, '--waypoint', `${NAMESPACE}/${WAYPOINT}`, '--out', dir);
  const pair = (name: string) => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) });
  return { bundle: join(dir, 'ca.pem'), waypoint: pair(WAYPOINT), client: pair(CLIENT_SA) };
}

function report(o: Options, results: readonly VariantResult[]): { text: string; checks: Check[] } {
  const [plain, hbone] = results as [VariantResult, VariantResult];
  const cpu = (r: VariantResult, who: string): number => r.paced.cpuSPer1k[who]!;
  const summary = table(
    ['path', 'req/s (saturation):', `p99 ms at ${o.rate} rps:`, 'agent CPU-s / 1k req:', 'waypoint CPU-s / 1k req:', 'agent + waypoint:'],
    results.map((r) => [r.variant, r.saturation.load.rps.toFixed(0), r.paced.load.p99Ms.toFixed(2),
      cpu(r, 'agent').toFixed(3), cpu(r, 'waypoint').toFixed(3), (cpu(r, 'agent') + cpu(r, 'waypoint')).toFixed(3)]),
  );
  const wp = cpu(hbone, 'waypoint');
  const checks: Check[] = [
    { name: `waypoint CPU-s per 1000 req on the HBONE path at ${o.rate} rps`, measured: wp.toFixed(3),
      goal: `<= ${GOAL_CPU_S_PER_1K.toFixed(3)}`, pass: wp <= GOAL_CPU_S_PER_1K, quiet: quiet(hbone.paced) },
    countingCheck(results),
  ];
  const text = variantMarkdown({
    intro: [`${o.size}-byte response body; CPU columns are from the paced phase (${o.rate} rps).`],
    summary, results, watched: ['agent', 'waypoint'], checks,
    comparisons: [
      `hbone / plain: req/s ${times(hbone.saturation.load.rps, plain.saturation.load.rps)}, `
        + `p99 ${delta(hbone.paced.load.p99Ms - plain.paced.load.p99Ms, 2)} ms, `
        + `waypoint CPU-s / 1k req ${times(wp, cpu(plain, 'waypoint'))}`,
      `Istio's waypoint: about ${ISTIO_WAYPOINT_CPU_S_PER_1K} vCPU per 1000 rps; this waypoint on the HBONE path: `
        + `${wp.toFixed(3)} CPU-s per 1000 requests (${times(wp, ISTIO_WAYPOINT_CPU_S_PER_1K)} of Istio's)`,
      'The agent is the client side (ztunnel\'s role), so it is not part of the waypoint comparison.',
    ],
  });
  return { text, checks };
}

main('hbone-bench', async () => {
  const { common, values } = parseOptions({ size: { type: 'string', default: '1024' } });
  const o: Options = { ...common, size: intOption('size', values.size!, 0) };
  const run = await beginRun();
  const pki = await makePki(o, run.runDir);
  const upstream = await startUpstream(run.runDir);
  const port = upstream.listeners.http!.split(':')[1]!;
  const configDir = writeConfig(run.runDir, 'config', GATEWAY_YAML + serviceEntryYaml({ name: 'bench-upstream', host: HOST, port }));
  const waypoint = await startWaypoint(o, run.runDir, configDir, 'waypoint', [
    '--hbone-port', '0', '--hbone-cert', pki.waypoint.cert, '--hbone-key', pki.waypoint.key, '--trust-bundle', pki.bundle,
  ]);
  if (!waypoint.listeners.hbone) throw new Error(`the waypoint reported no HBONE listener; see ${waypoint.logFile}`);
  const agent = await startAgent(o, run.runDir, configDir, [
    '--cert', pki.client.cert, '--key', pki.client.key, '--trust-bundle', pki.bundle,
    '--waypoint-address', waypoint.listeners.hbone, '--workload', 'bench-client',
  ]);
  // Both processes are watched on both paths: on the plain path the agent idles, and shows it.
  const watched: Watched[] = [{ name: 'agent', pid: agent.pid }, { name: 'waypoint', pid: waypoint.pid }];
  const target = { requestTarget: `http://${HOST}:${port}/${sizeQuery(o.size)}`, hostHeader: `${HOST}:${port}` };
  const paths: [string, Endpoint][] = [
    ['plain', { connect: waypoint.listeners.proxy!, ...target }],
    ['hbone', { connect: agent.listeners.http!, ...target }],
  ];
  const results: VariantResult[] = [];
  for (const [name, ep] of paths) results.push({ variant: name, ...(await runPhases(name, o, upstream, ep, watched)) });
  const { text, checks } = report(o, results);
  finishRun('hbone', run, o, text, { results, checks, istioWaypointCpuSPer1k: ISTIO_WAYPOINT_CPU_S_PER_1K }, variantsTrustworthy(results));
});
