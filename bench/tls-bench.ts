// Issue 5: what TLS origination costs the waypoint. The client sends plain http:// to service port 80
// in both cases; the ServiceEntry's targetPort sends it to one upstream process, either
//
//   plain  its plain HTTP port
//   tls    its HTTPS port, dialled with TLS because a DestinationRule says tls.mode SIMPLE, verified
//          against a CA generated for this run (caCertificates file) and the request host as SNI
//
// Upstream connections are pooled and kept alive, so this is the steady-state cost of TLS records
// (encryption, framing) plus occasional handshakes, not one handshake per request. For each:
// saturation req/s, paced p99, and the waypoint's CPU-s per 1000 requests.
//
//   node bench/tls-bench.ts [--duration 10] [--warmup 2] [--connections 50] [--rate 1000]
//                           [--size N] [--access-log off|json] [--egressway-root DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  GATEWAY_YAML, HOST, importFromRoot, NAMESPACE, serviceEntryYaml, sizeQuery, startUpstream, startWaypoint, writeConfig,
} from './lib/egressway.ts';
import { runPhases, upstreamCounts, type Endpoint } from './lib/measure.ts';
import {
  countingCheck, delta, quiet, table, times, variantMarkdown, variantsTrustworthy, type Check, type VariantResult,
} from './lib/report.ts';
import { beginRun, finishRun, main, optionalInt, parseOptions, type CommonOptions } from './lib/run.ts';

const TLS_HOST = `tls.${HOST}`;

interface Options extends CommonOptions {
  readonly size: number | undefined;
}

interface TlsVariant extends VariantResult {
  /** Requests the upstream served during the variant (warm-up included), and how many of them over HTTPS. */
  readonly served: { readonly requests: number; readonly tlsRequests: number };
}

interface UpstreamPki {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

type PkiModule = typeof import('../src/certs/pki.ts');

/** A CA for this run and a server certificate for TLS_HOST, written as PEM files. */
async function makePki(o: Options, runDir: string): Promise<UpstreamPki> {
  // The checkout's own certificate code (ECDSA P-256 via @peculiar/x509); the trust domain is unused.
  const pki = await importFromRoot<PkiModule>(o, 'src/certs/pki.ts');
  const ca = await pki.createMeshCa({ trustDomain: 'bench.test' });
  const leaf = await pki.issueLeaf(ca, { commonName: TLS_HOST, dnsNames: [TLS_HOST] });
  const dir = join(runDir, 'pki');
  mkdirSync(dir, { recursive: true });
  const files = { ca: join(dir, 'ca.pem'), cert: join(dir, 'upstream.crt'), key: join(dir, 'upstream.key') };
  writeFileSync(files.ca, ca.cert);
  writeFileSync(files.cert, leaf.cert);
  writeFileSync(files.key, leaf.key, { mode: 0o600 });
  return files;
}

function configYaml(httpPort: string, httpsPort: string, caFile: string): string {
  return GATEWAY_YAML
    + serviceEntryYaml({ name: 'bench-plain', host: HOST, port: 80, targetPort: httpPort })
    + serviceEntryYaml({ name: 'bench-tls', host: TLS_HOST, port: 80, targetPort: httpsPort })
    + `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: bench-tls, namespace: ${NAMESPACE}}
spec:
  host: ${TLS_HOST}
  trafficPolicy:
    tls: {mode: SIMPLE, caCertificates: ${caFile}}
`;
}

function report(o: Options, results: readonly TlsVariant[]): { text: string; checks: Check[] } {
  const [plain, tls] = results as [TlsVariant, TlsVariant];
  const cpu = (r: VariantResult): number => r.paced.cpuSPer1k.egressway!;
  const summary = table(
    ['upstream', 'req/s (saturation):', `p99 ms at ${o.rate} rps:`, `waypoint CPU-s / 1k req at ${o.rate} rps:`, 'at saturation:'],
    results.map((r) => [r.variant, r.saturation.load.rps.toFixed(0), r.paced.load.p99Ms.toFixed(2), cpu(r).toFixed(3),
      r.saturation.cpuSPer1k.egressway!.toFixed(3)]),
  );
  // Proof that origination happened: every tls request reached the HTTPS listener, no plain one did.
  const overTls = (r: TlsVariant): string => `${r.served.tlsRequests}/${r.served.requests}`;
  const originated = tls.served.tlsRequests === tls.served.requests && plain.served.tlsRequests === 0;
  const checks: Check[] = [
    { name: 'requests over upstream TLS: tls variant all, plain none', measured: `tls ${overTls(tls)}, plain ${overTls(plain)}`,
      goal: 'all, none', pass: originated, quiet: true },
    countingCheck(results),
  ];
  const text = variantMarkdown({
    intro: [`${o.size === undefined ? 'small' : `${o.size}-byte`} response body; upstream connections pooled (keep-alive).`],
    summary, results, watched: ['egressway'], checks,
    comparisons: [
      `TLS origination: req/s ${times(tls.saturation.load.rps, plain.saturation.load.rps)} of plain, `
        + `waypoint CPU-s / 1k req ${delta(cpu(tls) - cpu(plain), 3)} (${times(cpu(tls), cpu(plain))}), `
        + `p99 ${delta(tls.paced.load.p99Ms - plain.paced.load.p99Ms, 2)} ms`
        + `${quiet(plain.saturation, tls.saturation, plain.paced, tls.paced) ? '' : ' (unreliable: other load)'}`,
    ],
  });
  return { text, checks };
}

main('tls-bench', async () => {
  const { common, values } = parseOptions({ size: { type: 'string' } });
  const o: Options = { ...common, size: optionalInt(values, 'size', 0) };
  const run = await beginRun();
  const pki = await makePki(o, run.runDir);
  const upstream = await startUpstream(run.runDir, ['--tls-cert', pki.cert, '--tls-key', pki.key]);
  const port = (listener: string): string => upstream.listeners[listener]!.split(':')[1]!;
  const configDir = writeConfig(run.runDir, 'config', configYaml(port('http'), port('https'), pki.ca));
  const egressway = await startWaypoint(o, run.runDir, configDir);
  const via = (host: string): Endpoint => ({ connect: egressway.listeners.proxy!, requestTarget: `http://${host}/${sizeQuery(o.size)}`, hostHeader: host });
  const results: TlsVariant[] = [];
  for (const [name, ep] of [['plain', via(HOST)], ['tls', via(TLS_HOST)]] as const) {
    const before = await upstreamCounts(upstream);
    const phases = await runPhases(name, o, upstream, ep, [{ name: 'egressway', pid: egressway.pid }]);
    const after = await upstreamCounts(upstream);
    const served = { requests: after.requests - before.requests, tlsRequests: after.tlsRequests - before.tlsRequests };
    results.push({ variant: name, served, ...phases });
  }
  const { text, checks } = report(o, results);
  finishRun('tls', run, o, text, { results, checks }, variantsTrustworthy(results) && checks.every((c) => c.pass));
});
