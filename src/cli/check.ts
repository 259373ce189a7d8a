// `egressway check`: explains what the waypoint would do with a request, without sending it, by
// running the data plane's own code (check-explain.ts). One request from flags, or many with
// `--requests FILE` (check-batch.ts), against one compiled config.
// Exit code: 0 allowed (batch: all checked, every `expect` met), 1 denied (batch: an `expect` not
// met), 2 usage, config or input error.
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { compile } from '../compile/compile.ts';
import { loadConfig } from '../config/load.ts';
import { formatDiagnostic, hasErrors } from '../model/diagnostic.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { collect, oneOf, parseWaypointRef } from './args.ts';
import { parseBatch, runBatch } from './check-batch.ts';
import { explain } from './check-explain.ts';
import type { ExtAuthzMode } from './check-ext-authz.ts';
import { formatReport } from './check-format.ts';
import { DEFAULT_SOURCE_IP, parseRequest, type RequestSpec } from './check-request.ts';
import { meshCompileOptions } from '../controlplane/mesh-config.ts';
import { readMeshConfig, type MeshConfig } from './mesh-config.ts';

export type { CheckReport } from './check-explain.ts';
export { explain } from './check-explain.ts';
export { formatReport } from './check-format.ts';

interface CheckFlags {
  config: string[];
  requests?: string;
  from?: string;
  principal?: string;
  sourceNamespace?: string;
  method: string;
  header?: string[];
  sourceIp: string;
  destinationIp?: string;
  sni?: string;
  claims?: string;
  requestPrincipal?: string;
  meshConfig?: string;
  waypoint?: string;
  extAuthz: ExtAuthzMode;
  output: 'text' | 'json';
}

/** Flags that describe one request, by the JSON field they fill; with --requests they go in each line. */
const REQUEST_FLAGS: Readonly<Record<Exclude<keyof RequestSpec, 'expect'>, string>> = {
  url: '<url>', method: '--method', headers: '-H', from: '--from', principal: '--principal', sourceNamespace: '--source-namespace',
  sourceIp: '--source-ip', destinationIp: '--destination-ip', sni: '--sni', claims: '--claims', requestPrincipal: '--request-principal',
};

export function registerCheck(program: Command): void {
  program.command('check')
    .description('explain how the waypoint would route and authorize a request, without sending it')
    .argument('[url]', 'http://host[:port]/path (an HTTP request), https://host[:port] (a TLS tunnel) or tcp://host:port (a TCP tunnel); the address the client dialled')
    .requiredOption('-c, --config <path>', 'config file or directory (repeatable)', collect)
    .option('--requests <file>', 'check many requests: one JSON object per line (- for stdin), one JSON result per line out')
    .option('--from <spiffe-id>', 'the client\'s SPIFFE ID, e.g. spiffe://cluster.local/ns/shop/sa/cart')
    .option('--principal <principal>', 'the client\'s principal as policies list it, any string (e.g. example.org/batch/nightly)')
    .option('--source-namespace <ns>', 'a client in this namespace: principal cluster.local/ns/<ns>/sa/default')
    .option('-X, --method <method>', 'HTTP method', 'GET')
    .option('-H, --header <name:value>', 'request header (repeatable); -H "host: x" sets :authority apart from the dialled URL; -H "authorization: Bearer <jwt>" is verified as the waypoint does', collect)
    .option('--source-ip <ip>', 'client address (source.ip, ipBlocks)', DEFAULT_SOURCE_IP)
    .option('--destination-ip <ip>', 'the address the client dialled (destination.ip)')
    .option('--sni <name>', 'TLS server name of a tunnel (connection.sni); https:// URLs default to their host')
    .option('--claims <json>', 'act as if a verified JWT with these claims came with the request, e.g. \'{"iss":"https://issuer","sub":"alice","scope":"read write"}\'')
    .option('--request-principal <iss/sub>', 'the same as --claims \'{"iss":"<iss>","sub":"<sub>"}\' (a rule with audiences then refuses it: use --claims with "aud")')
    .option('--mesh-config <file>', 'Istio MeshConfig YAML (outboundTrafficPolicy, serviceEntryVisibility, extensionProviders, pathNormalization, gatewayTopology, defaultVirtualServiceExportTo, defaultDestinationRuleExportTo)')
    .option('--waypoint <namespace/name>', 'which waypoint Gateway to check as', parseWaypointRef)
    // A mode rather than a boolean: the default (skip) is spelled out in --help, and the network call
    // is asked for by name; commander's --no-* pairs have surprised us before (agent --no-proxy).
    .option('--ext-authz <mode>', 'CUSTOM providers: skip (stays offline; the verdict assumes they allow) | call (asks them as the waypoint does, sending them the request headers they select)', oneOf(['skip', 'call'] as const), 'skip')
    .option('-o, --output <format>', 'text | json (--requests always writes JSON lines)', (v) => { if (v !== 'text' && v !== 'json') throw new InvalidArgumentError('must be text or json'); return v; }, 'text')
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(async (url: string | undefined, flags: CheckFlags, cmd: Command) => process.exit(await check(url, flags, cmd)));
}

const usage = (m: string) => {
  process.stderr.write(`error: ${m}\n`);
  return 2;
};

async function check(url: string | undefined, f: CheckFlags, cmd: Command): Promise<number> {
  if (f.requests !== undefined) {
    if (url !== undefined) return usage(`give a <url> or --requests ${f.requests}, not both`);
    const given = Object.entries(REQUEST_FLAGS).filter(([k]) => k !== 'url' && cmd.getOptionValueSource(k === 'headers' ? 'header' : k) === 'cli');
    if (given.length) return usage(`${given.map(([, flag]) => flag).join(', ')} describe one request: with --requests put them in each line (fields ${given.map(([k]) => k).join(', ')})`);
    return batch(f.requests, f);
  }
  if (url === undefined) return usage('give the <url> to check, or --requests FILE');
  let claims: unknown;
  if (f.claims !== undefined) {
    try { claims = JSON.parse(f.claims); } catch (err) { return usage(`--claims is not JSON (${(err as Error).message}); example: --claims '{"iss":"https://issuer","sub":"alice"}'`); }
  }
  const spec: RequestSpec = { url, method: f.method, headers: f.header, from: f.from, principal: f.principal, sourceNamespace: f.sourceNamespace, sourceIp: f.sourceIp, destinationIp: f.destinationIp, sni: f.sni, claims, requestPrincipal: f.requestPrincipal };
  const request = parseRequest(spec, (k) => REQUEST_FLAGS[k as keyof typeof REQUEST_FLAGS] ?? k);
  if ('error' in request) return usage(request.error);
  const snap = await snapshot(f);
  if (typeof snap === 'number') return snap;
  const report = await explain(snap, request, f.extAuthz);
  process.stdout.write(f.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.decision.allow ? 0 : 1;
}

async function batch(file: string, f: CheckFlags): Promise<number> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (err) {
    return usage(`cannot read --requests ${file}: ${(err as Error).message}`);
  }
  const lines = parseBatch(text);
  if ('error' in lines) return usage(`--requests ${file}: ${lines.error}`);
  const snap = await snapshot(f);
  if (typeof snap === 'number') return snap;
  return runBatch(snap, lines, f.extAuthz, (s) => process.stdout.write(s), (s) => process.stderr.write(s));
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The snapshot the waypoint would run, or exit code 2 after printing why there is none. */
async function snapshot(f: CheckFlags): Promise<Snapshot | number> {
  let mesh: MeshConfig = {};
  try {
    if (f.meshConfig) mesh = await readMeshConfig(f.meshConfig);
  } catch (err) {
    return usage((err as Error).message);
  }
  const loaded = await loadConfig(f.config);
  // The same MeshConfig fields `run` and `analyze` read (outboundTrafficPolicy, serviceEntryVisibility
  // included), so check explains the waypoint those would run.
  const meshOptions = meshCompileOptions(mesh);
  const out = compile(loaded.resources, { ...meshOptions, waypoint: f.waypoint, numTrustedProxies: meshOptions.numTrustedProxies ?? 0 });
  const diags = [...loaded.diagnostics, ...out.diagnostics];
  if (hasErrors(diags) || !out.snapshot) {
    for (const d of diags) if (d.level === 'error') process.stderr.write(`${formatDiagnostic(d)}\n`);
    return 2;
  }
  return out.snapshot;
}
