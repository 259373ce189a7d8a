// IST0130 VirtualServiceUnreachableRule / IST0131 VirtualServiceIneffectiveMatch, as Istio's
// analyzeUnreachableHTTPRules / TCPRules / TLSRules compute them (pkg/config/validation/validation.go):
// - a rule after a rule without matches is unreachable ("only the last rule can have no matches",
//   once for a second match-less rule; "route without matches defined before", once per match);
// - a match equal (ignoring its name) to an earlier match, in this rule or an earlier one, is
//   ineffective, and a rule whose matches all are is unreachable;
// - HTTP only: a uri-prefix match covered by an earlier uri-prefix match, comparing port, method
//   (GET when unset), authority, headers, query params and withoutHeaders the way Istio does (by
//   string prefix of "exact:"/"prefix:" forms), is ineffective.
import type { HTTPMatchRequest, StringMatch, VirtualServiceSpec } from '../../config/kinds/virtual-service.ts';
import type { Resource } from '../../config/resource.ts';
import type { Path } from '../../config/schema.ts';
import type { Diagnostic } from '../../model/diagnostic.ts';
import { finding } from '../context.ts';

type VS = Resource<VirtualServiceSpec>;
type Kind = 'http' | 'tcp' | 'tls';

interface Reporter {
  unreachable(name: string, reason: string, path: Path): void;
  ineffective(name: string, match: string, dup: string, path: Path): void;
}

export function analyzeUnreachable(vs: VS, out: Diagnostic[]): void {
  const report: Reporter = {
    unreachable: (name, reason, path) => out.push(finding(vs, 'VirtualServiceUnreachableRule', path, `VirtualService rule ${name} not used (${reason}).`, 'reorder the rules, most specific first, or delete this one')),
    ineffective: (name, match, dup, path) => out.push(finding(vs, 'VirtualServiceIneffectiveMatch', path, `VirtualService rule ${name} match ${match} is not used (duplicate/overlapping match in rule ${dup}).`, 'reorder the rules, most specific first, or delete this match')),
  };
  for (const kind of ['http', 'tcp', 'tls'] as const) rules(vs, kind, report);
}

/** Istio's routeName / requestName: a quoted name for HTTP rules and matches that have one, else #n. */
const nameOf = (x: { name?: string } | undefined, n: number, kind: Kind) => (kind === 'http' && x?.name ? JSON.stringify(x.name) : `#${n}`);

function rules(vs: VS, kind: Kind, report: Reporter): void {
  const routes = (vs.spec[kind] ?? []) as readonly { name?: string; match?: readonly unknown[] }[];
  const seen = new Map<string, number>();
  const prefixes: PrefixMatch[] = [];
  let emptyAt = -1;
  routes.forEach((route, i) => {
    const path: Path = ['spec', kind, i];
    const ruleName = nameOf(route, i, kind);
    const matches = route.match ?? [];
    if (matches.length === 0) {
      if (emptyAt >= 0) report.unreachable(ruleName, 'only the last rule can have no matches', path);
      emptyAt = i;
      return;
    }
    let duplicates = 0;
    matches.forEach((m, j) => {
      const mp: Path = [...path, 'match', j];
      if (emptyAt >= 0) return report.unreachable(ruleName, 'route without matches defined before', mp);
      const key = canonical(m);
      const dup = seen.get(key);
      if (dup !== undefined) {
        report.ineffective(ruleName, nameOf(m as { name?: string }, j, kind), nameOf(routes[dup], dup, kind), mp);
        duplicates++;
        return;
      }
      seen.set(key, i);
      if (kind === 'http') {
        const p = prefixMatch(m as HTTPMatchRequest, ruleName, nameOf(m as { name?: string }, j, kind), mp);
        if (p) prefixes.push(p);
      }
    });
    if (duplicates === matches.length) report.unreachable(ruleName, 'all matches used by prior rules', path);
  });
  overlaps(prefixes, report);
}

/** The match as Istio's asJSON sees it: without its name, and without zero values (proto3 omits them). */
function canonical(m: unknown): string {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.length ? v.map(strip) : undefined;
    if (v && typeof v === 'object') {
      const entries = Object.entries(v).filter(([k]) => k !== 'name' || v !== m).map(([k, x]) => [k, strip(x)] as const).filter(([, x]) => x !== undefined);
      return entries.length ? Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b))) : {};
    }
    return v === false || v === 0 || v === '' || v === null ? undefined : v;
  };
  return JSON.stringify(strip(m) ?? {});
}

interface PrefixMatch {
  readonly route: string;
  readonly match: string;
  readonly path: Path;
  readonly prefix: string;
  readonly port: number;
  readonly method: string;
  readonly authority: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly query: ReadonlyMap<string, string>;
  readonly without: ReadonlyMap<string, string>;
}

// assignExactOrPrefix: only exact and prefix take part; a regex reads as "".
const form = (s: StringMatch | null | undefined) => (s?.exact ? `exact:${s.exact}` : s?.prefix ? `prefix:${s.prefix}` : '');
const forms = (rec: Readonly<Record<string, StringMatch>> | undefined) => new Map(Object.entries(rec ?? {}).map(([k, v]) => [k, form(v)]));

function prefixMatch(m: HTTPMatchRequest, route: string, match: string, path: Path): PrefixMatch | undefined {
  const prefix = m.uri?.prefix;
  if (!prefix) return undefined;
  return {
    route, match, path, prefix, port: m.port ?? 0,
    // A prefix match without a method is compared as GET (Istio's choice).
    method: form(m.method) || 'exact:GET',
    authority: form(m.authority),
    headers: forms(m.headers), query: forms(m.queryParams), without: forms(m.withoutHeaders),
  };
}

// coveredValidation, transcribed: `a` (earlier) covers `b` (later).
function covered(a: PrefixMatch, b: PrefixMatch): boolean {
  if (!b.prefix.startsWith(a.prefix) || a.port !== b.port) return false;
  if (a.method !== b.method && !a.method.startsWith(b.method)) return false;
  if (a.authority !== b.authority && !a.authority.startsWith(b.authority)) return false;
  const sameKeys = (x: ReadonlyMap<string, string>, y: ReadonlyMap<string, string>) =>
    x.size === y.size && [...x].every(([k, v]) => y.has(k) && (v === y.get(k) || v.startsWith(y.get(k)!)));
  return sameKeys(a.headers, b.headers) && sameKeys(a.query, b.query) && sameKeys(a.without, b.without);
}

function overlaps(list: readonly PrefixMatch[], report: Reporter): void {
  list.forEach((a, i) => {
    for (const b of list.slice(i + 1)) {
      // Equal prefixes were compared as whole matches above.
      if (b.prefix === a.prefix || !covered(a, b)) continue;
      report.ineffective(b.route, `${b.match} of prefix ${b.prefix}`, `${a.match} of prefix ${a.prefix} on ${a.route}`, b.path);
    }
  });
}
