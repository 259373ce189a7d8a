// Delegate VirtualServices merged into their roots, as istiod does before anything reads them
// (model/virtualservice.go mergeVirtualServicesIfNeeded): a VirtualService without hosts is a
// delegate; a root's http rule with `delegate` is replaced by the delegate's http rules, each merged
// with it (mergeHTTPRoute: the delegate's fields win, the root's fill what it leaves unset; matches
// merged pairwise, a delegate match that conflicts with every root match drops that delegate rule).
// A delegate that does not exist, or is not exported to the root's namespace (its exportTo, or
// meshConfig defaultVirtualServiceExportTo), leaves the root rule in place: routes-virtual-service.ts
// skips it with a diagnostic, as istiod skips it. The delegate's short destination hosts are resolved
// in its own namespace. A merged root is a new object, reused while the root and its delegates are
// the same objects.
import type { Resource } from '../config/resource.ts';
import type { HTTPMatchRequest, HTTPRoute, StringMatch, VirtualServiceSpec } from '../config/kinds/virtual-service.ts';
import { resolveShortname } from './vs-scope.ts';

type VS = Resource<VirtualServiceSpec>;

interface Merged {
  readonly delegates: readonly (VS | undefined)[];
  readonly exportKey: string;
  readonly vs: VS;
}

const mergedRoots = new WeakMap<VS, Merged>();
const merged = new WeakSet<VS>();

/** Whether `vs` is a root with its delegates merged in (its http list counts even when empty, as istiod's non-nil slice). */
export function isMergedRoot(vs: VS): boolean {
  return merged.has(vs);
}

/** The VirtualServices with each root replaced by its merged form; the same array when there is no root. */
export function mergeDelegates(vss: readonly VS[], defaultExportTo: readonly string[]): readonly VS[] {
  if (!vss.some(isRoot)) return vss;
  const delegates = new Map<string, VS>();
  for (const v of vss) if ((v.spec.hosts ?? []).length === 0) delegates.set(`${v.metadata.namespace}/${v.metadata.name}`, v);
  const exportKey = defaultExportTo.join(',');
  return vss.map((root) => {
    if (!isRoot(root)) return root;
    const used = (root.spec.http ?? []).map((r) => (r.delegate ? delegates.get(`${r.delegate.namespace || root.metadata.namespace}/${r.delegate.name}`) : undefined));
    const before = mergedRoots.get(root);
    if (before && before.exportKey === exportKey && before.delegates.length === used.length && before.delegates.every((d, i) => d === used[i])) return before.vs;
    const http: HTTPRoute[] = [];
    // Where each merged rule was written, so that a diagnostic on it points there.
    const origin: { from: VS; index: number }[] = [];
    (root.spec.http ?? []).forEach((route, i) => {
      const d = used[i];
      if (!route.delegate || !d || !exportedTo(d, root.metadata.namespace, defaultExportTo)) {
        http.push(route);
        origin.push({ from: root, index: i });
      } else (d.spec.http ?? []).forEach((sub, j) => {
        const m = mergeRoute(route, resolved(sub, d.metadata.namespace));
        if (m) {
          http.push(m);
          origin.push({ from: d, index: j });
        }
      });
    });
    const locate: VS['locate'] = (path) => {
      const o = path[0] === 'spec' && path[1] === 'http' && typeof path[2] === 'number' ? origin[path[2]] : undefined;
      return o ? o.from.locate(['spec', 'http', o.index, ...path.slice(3)]) : root.locate(path);
    };
    const vs: VS = { ...root, spec: { ...root.spec, http }, locate };
    merged.add(vs);
    mergedRoots.set(root, { delegates: used, exportKey, vs });
    return vs;
  });
}

function isRoot(v: VS): boolean {
  return (v.spec.hosts ?? []).length > 0 && (v.spec.http ?? []).some((r) => r.delegate);
}

/** delegatesExportToMap: `.` is the delegate's namespace; no exportTo takes the mesh default. */
function exportedTo(d: VS, namespace: string, defaultExportTo: readonly string[]): boolean {
  const list = d.spec.exportTo?.length ? d.spec.exportTo : defaultExportTo;
  return list.some((e) => e === '*' || (e === '.' ? d.metadata.namespace : e) === namespace);
}

/** resolveVirtualServiceShortnames on the delegate's own rule, before the merge moves it into the root's namespace. */
function resolved(r: HTTPRoute, ns: string): HTTPRoute {
  const dest = <T extends { host: string }>(d: T): T => ({ ...d, host: resolveShortname(d.host, ns) });
  return {
    ...r,
    ...(r.route ? { route: r.route.map((rd) => ({ ...rd, destination: dest(rd.destination) })) } : {}),
    ...(r.mirror ? { mirror: dest(r.mirror) } : {}),
    ...(r.mirrors ? { mirrors: r.mirrors.map((m) => ({ ...m, destination: dest(m.destination) })) } : {}),
  };
}

/** mergeHTTPRoute: undefined when the delegate's matches conflict with the root's. */
function mergeRoute(root: HTTPRoute, d: HTTPRoute): HTTPRoute | undefined {
  const match = mergeMatches(root.match ?? [], d.match ?? []);
  if (!match) return undefined;
  const name = !d.name ? root.name : root.name ? `${root.name}-${d.name}` : d.name;
  const { delegate: _, ...rest } = d;
  return {
    ...rest,
    ...(match.length ? { match } : {}),
    ...(name !== undefined ? { name } : {}),
    rewrite: d.rewrite ?? root.rewrite,
    directResponse: d.directResponse ?? root.directResponse,
    timeout: d.timeout ?? root.timeout,
    retries: d.retries ?? root.retries,
    fault: d.fault ?? root.fault,
    mirror: d.mirror ?? root.mirror,
    mirrorPercent: d.mirrorPercent ?? root.mirrorPercent,
    mirrorPercentage: d.mirrorPercentage ?? root.mirrorPercentage,
    corsPolicy: d.corsPolicy ?? root.corsPolicy,
    mirrors: d.mirrors ?? root.mirrors,
    headers: d.headers ?? root.headers,
  };
}

/** mergeHTTPMatchRequests: every delegate match needs a root match it does not conflict with. */
function mergeMatches(root: readonly HTTPMatchRequest[], d: readonly HTTPMatchRequest[]): readonly HTTPMatchRequest[] | undefined {
  if (root.length === 0) return d;
  if (d.length === 0) return root;
  const out: HTTPMatchRequest[] = [];
  for (const sub of d) {
    let found = false;
    for (const r of root) {
      if (conflict(r, sub)) continue;
      out.push(mergeMatch(r, sub));
      found = true;
    }
    if (!found) return undefined;
  }
  return out.length ? out : undefined;
}

function mergeMatch(r: HTTPMatchRequest, d: HTTPMatchRequest): HTTPMatchRequest {
  const name = !d.name ? r.name : r.name ? `${r.name}-${d.name}` : d.name;
  const maps = <T>(a?: Readonly<Record<string, T>>, b?: Readonly<Record<string, T>>) => (a || b ? { ...a, ...b } : undefined);
  return {
    ...d,
    name,
    uri: d.uri ?? r.uri,
    scheme: d.scheme ?? r.scheme,
    method: d.method ?? r.method,
    authority: d.authority ?? r.authority,
    headers: maps(r.headers, d.headers),
    withoutHeaders: maps(r.withoutHeaders, d.withoutHeaders),
    queryParams: maps(r.queryParams, d.queryParams),
    port: d.port || r.port,
    sourceLabels: maps(r.sourceLabels, d.sourceLabels),
    sourceNamespace: d.sourceNamespace || r.sourceNamespace,
    gateways: d.gateways?.length ? d.gateways : r.gateways,
    statPrefix: d.statPrefix || r.statPrefix,
  };
}

/** hasConflict: the delegate match is not within the root match. */
function conflict(r: HTTPMatchRequest, d: HTTPMatchRequest): boolean {
  if (stringConflict(r.uri, d.uri) || stringConflict(r.scheme, d.scheme) || stringConflict(r.method, d.method) || stringConflict(r.authority, d.authority)) return true;
  for (const [k, v] of Object.entries(d.headers ?? {})) if (stringConflict(r.headers?.[k], v)) return true;
  for (const [k, v] of Object.entries(d.withoutHeaders ?? {})) if (stringConflict(r.withoutHeaders?.[k], v)) return true;
  for (const [k, v] of Object.entries(d.queryParams ?? {})) if (stringConflict(r.queryParams?.[k], v)) return true;
  if ((r.ignoreUriCase ?? false) !== (d.ignoreUriCase ?? false)) return true;
  if (r.port && d.port && r.port !== d.port) return true;
  if (r.sourceNamespace && d.sourceNamespace !== r.sourceNamespace) return true;
  for (const [k, v] of Object.entries(d.sourceLabels ?? {})) if (r.sourceLabels && k in r.sourceLabels && r.sourceLabels[k] !== v) return true;
  const rg = r.gateways ?? [];
  const dg = d.gateways ?? [];
  if (rg.length > 0 && dg.length > 0 && (rg.length < dg.length || dg.some((g) => !rg.includes(g)))) return true;
  return false;
}

/** stringMatchConflict (proto getters: an unset field reads as ""). */
function stringConflict(r: StringMatch | undefined, d: StringMatch | undefined): boolean {
  if (!r || !d) return false;
  const [re, rp, rr] = [r.exact ?? '', r.prefix ?? '', r.regex ?? ''];
  const [de, dp, dr] = [d.exact ?? '', d.prefix ?? '', d.regex ?? ''];
  if (rr && (dr || dp || de)) return true;
  if (dr && (rr || rp || re)) return true;
  if (re) return dp !== '' || de !== re;
  if (rp) {
    if (dp) return !dp.startsWith(rp);
    if (de) return !de.startsWith(rp);
  }
  return true;
}
