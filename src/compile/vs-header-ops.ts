// VirtualService header edits as istiod's TranslateHeadersOperations makes them for Envoy: Host and
// pseudo-headers are not edited as headers (a host / :authority set or add is the authority
// rewrite), and values are Envoy format strings.
import type { Resource } from '../config/resource.ts';
import type { VirtualServiceSpec } from '../config/kinds/virtual-service.ts';
import { isAuthority } from '../config/kinds/header-rules.ts';
import type { HeaderOps } from '../model/route.ts';
import { HEADER_VARIABLES } from '../model/header-ops.ts';
import { headerOps } from './routes-common.ts';
import { routeDiagnostic, type RouteContext } from './routes.ts';

type VS = Resource<VirtualServiceSpec>;

export interface VsOps {
  readonly ops?: HeaderOps;
  /** A `host` / `:authority` set (else add) edit: Istio's translateAppendHeaders makes it a host rewrite. */
  readonly authority?: string;
}

/** TranslateHeadersOperations: pseudo-headers and Host are not edited as headers (dropInternal). */
/**
 * Envoy reads a header value as a format string: `%%` is a literal `%` (unescaped here, once), and
 * a `%VARIABLE%` is filled in per request (HEADER_VARIABLES; the value is kept as written and its
 * HeaderOps marked dynamic). A variable this waypoint does not know is warned and sent as written.
 * An empty value is never applied (Envoy adds no empty header, and a set of "" leaves the header).
 */
export function formatNote(vs: VS, ctx: RouteContext) {
  return (path: (string | number)[]) => (name: string, value: string): { value: string; dynamic?: boolean } => {
    if (!value.includes('%')) return { value };
    const names = [...value.replace(/%%/g, '').matchAll(/%([A-Z_]+)(\([^)]*\))?(:\d+)?%/g)].map((m) => m[1]!);
    if (names.length === 0) return { value: value.replace(/%%/g, '%') };
    const unknown = names.find((n) => !HEADER_VARIABLES.includes(n));
    if (!unknown) return { value, dynamic: true };
    ctx.diagnostics.push(routeDiagnostic(vs, [...path, name], `%${unknown}% in this header value is an Envoy variable this waypoint does not fill in: the value is sent as written`, `use a literal value, or one of ${HEADER_VARIABLES.map((v) => `%${v}%`).join(', ')}`));
    return { value };
  };
}

type Note = (name: string, value: string) => { value: string; dynamic?: boolean };

export function vsHeaderOps(h: { set?: Readonly<Record<string, string>>; add?: Readonly<Record<string, string>>; remove?: readonly string[] } | undefined, note: Note): VsOps {
  if (!h) return {};
  const internal = (k: string) => k.startsWith(':') || k.toLowerCase() === 'host';
  const authorityOf = (rec: Readonly<Record<string, string>> | undefined) => {
    let out: string | undefined;
    for (const [k, v] of Object.entries(rec ?? {})) if (isAuthority(k)) out = v;
    return out;
  };
  let dynamic = false;
  const keep = (rec: Readonly<Record<string, string>> | undefined) => Object.entries(rec ?? {}).filter(([k, v]) => !internal(k) && v !== '').map(([k, v]) => {
    const n = note(k, v);
    dynamic ||= n.dynamic === true;
    return [k, n.value] as const;
  });
  const authority = authorityOf(h.set) || authorityOf(h.add) || undefined;
  const ops = headerOps(keep(h.set), keep(h.add), (h.remove ?? []).filter((k) => !internal(k)));
  return { ops: ops && dynamic ? { ...ops, dynamic } : ops, ...(authority ? { authority } : {}) };
}
