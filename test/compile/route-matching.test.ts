// Table-driven route matching: every file in test/fixtures/routes/ holds {config, cases}. config
// is ServiceEntries plus VirtualServices or HTTPRoutes (the waypoint Gateway is prepended); each
// case is a request and what the waypoint must do with it, evaluated without sockets through
// compile() + matchRoute() + pickWeighted() (with the case's fixed random draw) + rewritePath() /
// redirectLocation(). The cases transcribe the Gateway API conformance suite (HTTPRoute) and
// Istio's route translation (VirtualService); each fixture names its sources.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { compile } from '../../src/compile/compile.ts';
import { validateResource } from '../../src/config/kinds/index.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import { formatDiagnostic } from '../../src/model/diagnostic.ts';
import type { Snapshot } from '../../src/model/snapshot.ts';
import { applyHeaderOps, matchRoute, pickWeighted, redirectLocation, rewritePath } from '../../src/dataplane/route.ts';
import { WAYPOINT_YAML } from '../helpers/inprocess.ts';

const DIR = new URL('../fixtures/routes/', import.meta.url);

interface Request {
  host: string;
  port?: number;
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  /** The weighted-cluster draw in [0, 1). */
  random?: number;
}

interface Expect {
  /** route_name of the matched rule (`default` without a route object). */
  route?: string;
  status?: number;
  cluster?: string;
  /** Path (with query) sent upstream, after rewrites. */
  path?: string;
  authority?: string;
  /** Request headers after the route's edits; null means absent. */
  headers?: Record<string, string | null>;
  location?: string;
}

interface Fixture {
  config: string;
  warnings?: string[];
  cases: { name?: string; request: Request; expect: Expect }[];
}

/** What the waypoint would do with the request, as plain data. */
interface Outcome {
  route?: string;
  status: number;
  cluster?: string;
  path?: string;
  authority?: string;
  headers?: Record<string, string>;
  location?: string;
}

function destination(snap: Snapshot, host: string, port: number) {
  const h = host.toLowerCase();
  const exact = snap.hosts.exact.get(h)?.get(port);
  if (exact) return exact;
  for (const [suffix, ports] of snap.hosts.wildcard) if (h.endsWith(suffix) && ports.has(port)) return ports.get(port);
  return undefined;
}

function evaluate(snap: Snapshot, r: Request): Outcome {
  const port = r.port ?? 80;
  const path = r.path ?? '/';
  const d = destination(snap, r.host, port);
  if (!d) return { status: 502 };
  const authority = port === 80 ? r.host : `${r.host}:${port}`;
  const headers: IncomingHttpHeaders = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const flat = Object.entries(r.headers ?? {}).flat();
  const table = snap.routes.get(d.cluster.name);
  if (!table) return { route: 'default', status: 200, cluster: d.cluster.name, path, authority, headers: toRecord(flat) };
  const hit = matchRoute(table, { path, method: r.method ?? 'GET', authority, headers, port });
  if (!hit) return { status: 404 };
  const a = hit.rule.action;
  const route = hit.rule.name;
  if (a.kind === 'direct') return { route, status: a.status };
  if (a.kind === 'redirect') return { route, status: a.status, location: redirectLocation(a, { host: authority, port, path }) };
  const wc = a.clusters.length ? pickWeighted(a, () => r.random ?? 0) : undefined;
  const cluster = wc ? wc.cluster : d.cluster.name;
  if (!cluster) return { route, status: a.clusterNotFoundStatus ?? 503 };
  const out = applyHeaderOps(applyHeaderOps(flat, hit.rule.requestHeaders), wc?.requestHeaders);
  return {
    route, status: 200, cluster, path: a.rewrite ? rewritePath(path, a.rewrite) : path,
    authority: wc?.authority ?? a.rewrite?.authority ?? authority, headers: toRecord(out),
  };
}

/** Lower-cased names; repeated headers joined with `,` as an upstream sees them. */
function toRecord(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const k = flat[i]!.toLowerCase();
    out[k] = out[k] === undefined ? flat[i + 1]! : `${out[k]},${flat[i + 1]}`;
  }
  return out;
}

function check(o: Outcome, e: Expect, label: string): void {
  if (e.status !== undefined) assert.equal(o.status, e.status, label);
  else assert.equal(o.status, e.location ? o.status : 200, label);
  if (e.route !== undefined) assert.equal(o.route, e.route, label);
  if (e.cluster !== undefined) assert.equal(o.cluster, e.cluster, label);
  if (e.path !== undefined) assert.equal(o.path, e.path, label);
  if (e.authority !== undefined) assert.equal(o.authority, e.authority, label);
  if (e.location !== undefined) assert.equal(o.location, e.location, label);
  for (const [k, v] of Object.entries(e.headers ?? {})) assert.equal(o.headers?.[k.toLowerCase()], v ?? undefined, `${label}\nheader ${k}`);
}

for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()) {
  const fx = parse(readFileSync(new URL(file, DIR), 'utf8')) as Fixture;
  describe(`routes/${file}`, () => {
    const parsed = parseDocuments(`${WAYPOINT_YAML}---\n${fx.config}`, file);
    const validated = [...parsed.diagnostics, ...parsed.resources.flatMap((r) => validateResource(r).diagnostics)];
    const out = compile(parsed.resources, {});
    test('compiles without errors', () => {
      assert.deepEqual(validated.filter((d) => d.level === 'error').map(formatDiagnostic), []);
      assert.ok(out.snapshot, out.diagnostics.map(formatDiagnostic).join('\n'));
      const warnings = [...validated, ...out.diagnostics].filter((d) => d.level === 'warning').map(formatDiagnostic);
      for (const w of fx.warnings ?? []) assert.ok(warnings.some((x) => x.includes(w)), `no warning containing ${JSON.stringify(w)} in:\n${warnings.join('\n')}`);
    });
    fx.cases.forEach((c, i) => {
      const r = c.request;
      test(c.name ?? `${r.method ?? 'GET'} ${r.host}${r.port && r.port !== 80 ? `:${r.port}` : ''}${r.path ?? '/'}${r.headers ? ` ${JSON.stringify(r.headers)}` : ''} (case ${i})`, () => {
        assert.ok(out.snapshot);
        const o = evaluate(out.snapshot, r);
        check(o, c.expect, `${JSON.stringify(r)} -> ${JSON.stringify(o)}`);
      });
    });
  });
}
