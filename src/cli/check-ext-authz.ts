// CUSTOM providers in `egressway check`. `--ext-authz call` hands authorizeDecided() a runtime whose
// client is the data plane's own checkExtAuthz(), so the answer, failOpen, statusOnError, timeouts and
// header selection are the waypoint's; the runtime only records each answer for the report.
// `--ext-authz skip` (the default) asks nobody and answers allow: the offline verdict assumes that.
import type { AuthzRuntime } from '../dataplane/authorize.ts';
import { defaultRuntime } from '../dataplane/authorize.ts';
import type { ExtAuthzHttpProvider } from '../model/authn.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { CustomCall } from '../policy/decide.ts';
import { checkExtAuthz, type ExtAuthzResult } from '../policy/ext-authz.ts';

export type ExtAuthzMode = 'skip' | 'call';

type Header = readonly [string, string];

/** One matched CUSTOM policy's provider, and what became of it. */
export interface ExtAuthzCallReport {
  readonly provider: string;
  readonly policy: string;
  readonly rule: number;
  /** The provider's service host:port from meshConfig; null when extensionProviders does not define it. */
  readonly address: string | null;
  readonly failOpen?: boolean;
  readonly statusOnError?: number;
  readonly timeoutMs?: number;
  /** asked: it answered or failed; skipped: --ext-authz skip; not-asked: the waypoint would not ask it either. */
  readonly outcome: 'asked' | 'skipped' | 'not-asked';
  /** One line for operators: the answer and its effect, or why it was not asked; errors end with the next step. */
  readonly summary: string;
  readonly answer?:
    | { readonly kind: 'allow'; readonly ms: number; readonly upstreamHeaders: readonly Header[]; readonly downstreamHeaders: readonly Header[] }
    | { readonly kind: 'deny'; readonly ms: number; readonly status: number; readonly headers: readonly Header[]; readonly body: string }
    | { readonly kind: 'error'; readonly ms: number; readonly code: string; readonly reason: string };
}

type Answer = { readonly result: ExtAuthzResult; readonly ms: number } | 'skipped';

const ASSUME_ALLOW: ExtAuthzResult = { kind: 'allow', upstream: { remove: [], set: [] } };

/** The runtime authorizeDecided() calls providers through, and the answers it saw, by provider name. */
export function extAuthzRuntime(mode: ExtAuthzMode): { readonly rt: AuthzRuntime; readonly answers: ReadonlyMap<string, Answer> } {
  const answers = new Map<string, Answer>();
  const extAuthz: AuthzRuntime['extAuthz'] = async (p, c) => {
    if (mode === 'skip') {
      answers.set(p.name, 'skipped');
      return ASSUME_ALLOW;
    }
    const start = performance.now();
    const result = await checkExtAuthz(p, c);
    answers.set(p.name, { result, ms: Math.round(performance.now() - start) });
    return result;
  };
  return { rt: { jwks: defaultRuntime.jwks, extAuthz }, answers };
}

export function reportCalls(snap: Snapshot, calls: readonly CustomCall[], answers: ReadonlyMap<string, Answer>, tcp: boolean): ExtAuthzCallReport[] {
  return calls.map((c) => {
    const p = snap.authz.providers.get(c.provider);
    const head = { provider: c.provider, policy: c.policy, rule: c.rule, address: p ? `${p.host}:${p.port}` : null };
    if (!p) return { ...head, outcome: 'not-asked', summary: 'not defined in meshConfig extensionProviders: as in Istio, the waypoint denies what this policy matches' };
    const cfg = { ...head, failOpen: p.failOpen, statusOnError: p.statusOnError, timeoutMs: p.timeoutMs };
    if (tcp) return { ...cfg, outcome: 'not-asked', summary: 'not asked: an HTTP ext-authz provider cannot check an opaque TCP tunnel, so Istio ignores CUSTOM here' };
    const a = answers.get(c.provider);
    if (a === 'skipped') return { ...cfg, outcome: 'skipped', summary: 'would be asked first; not called (--ext-authz skip), so the decision below assumes it allows' };
    if (!a) return { ...cfg, outcome: 'not-asked', summary: 'not asked: an earlier CUSTOM provider already denied' };
    return { ...cfg, outcome: 'asked', ...answered(p, a.result, a.ms) };
  });
}

function answered(p: ExtAuthzHttpProvider, r: ExtAuthzResult, ms: number): Pick<ExtAuthzCallReport, 'summary' | 'answer'> {
  if (r.kind === 'allow') {
    const up = r.upstream.set;
    const down = r.upstream.response ?? [];
    const edits = `${up.length ? `; upstream gets ${headerList(up)}` : ''}${down.length ? `; the client gets ${headerList(down)}` : ''}`;
    return { summary: `ALLOW (200 in ${ms} ms)${edits}`, answer: { kind: 'allow', ms, upstreamHeaders: up, downstreamHeaders: down } };
  }
  if (r.kind === 'deny') {
    return { summary: `DENY (${r.status} in ${ms} ms): the client gets this status and body, with headersToDownstreamOnDeny`, answer: { kind: 'deny', ms, status: r.status, headers: r.headers, body: r.body } };
  }
  const code = r.code ?? 'error';
  const effect = p.failOpen ? 'failOpen is true, so the request goes on' : `failOpen is false, so the waypoint denies with statusOnError ${p.statusOnError}`;
  return { summary: `ERROR: ${r.reason}; ${effect}. Next: ${nextStep(p, code)}`, answer: { kind: 'error', ms, code, reason: r.reason } };
}

function nextStep(p: ExtAuthzHttpProvider, code: string): string {
  const at = `${p.host}:${p.port}`;
  switch (code) {
    case 'timeout':
      return `make ${p.name} answer within ${p.timeoutMs} ms, or raise envoyExtAuthzHttp.timeout in --mesh-config`;
    case 'ENOTFOUND': case 'EAI_AGAIN':
      return `${p.host} does not resolve here: run check where it does (inside the mesh), or --ext-authz skip to stay offline`;
    case 'ECONNREFUSED': case 'EHOSTUNREACH': case 'ENETUNREACH': case 'ETIMEDOUT': case 'UND_ERR_CONNECT_TIMEOUT':
      return `start ${p.name} or make ${at} reachable from where check runs, or --ext-authz skip to stay offline`;
    default:
      return `${at} gave no HTTP answer; check that ${p.name} serves envoyExtAuthzHttp (plain HTTP) on that port`;
  }
}

export function headerList(hs: readonly Header[]): string {
  return hs.map(([k, v]) => `${k}: ${v}`).join(', ');
}
