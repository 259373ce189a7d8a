// Header edits: request headers sent upstream (src/dataplane/headers.ts) and route header
// operations (src/dataplane/route.ts applyHeaderOps, src/model/header-ops.ts).
import fc from 'fast-check';
import { forwardRequestHeaders, forwardResponseHead } from '../../../src/dataplane/headers.ts';
import { applyHeaderOps } from '../../../src/dataplane/route.ts';
import { mergeOps } from '../../../src/model/header-ops.ts';
import { TRACEPARENT } from '../../../src/telemetry/trace-context.ts';
import { headerOps, rawHeaders } from '../../helpers/arbitraries.ts';
import { fuzzProperty } from '../property.ts';

// RFC 9110 §7.6.1 connection-specific fields and the proxy-only ones a forward proxy consumes.
const HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'expect', 'http2-settings'];

function pairs(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}

/** Every field a Connection header names, over all Connection headers (RFC 9110 §7.6.1: one list). */
function connectionListed(raw: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const [n, v] of pairs(raw)) {
    if (n.toLowerCase() !== 'connection') continue;
    for (const t of v.split(',')) out.add(t.trim().toLowerCase());
  }
  return out;
}

const values = (flat: readonly string[], name: string) => pairs(flat).filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);

export const properties = [
  fuzzProperty('headers: the upstream request has one Host (the target\'s), no hop-by-hop or Connection-listed field (but TE: trailers)', fc.property(rawHeaders, fc.boolean(), fc.boolean(), (raw, keepUpgrade, ownSpan) => {
    const out = forwardRequestHeaders(raw, 'up.example:80', keepUpgrade, ownSpan).headers;
    if (out.length % 2) throw new Error('odd header list');
    const hosts = values(out, 'host');
    if (hosts.length !== 1 || hosts[0] !== 'up.example:80') throw new Error(`Host ${JSON.stringify(hosts)}`);
    const listed = connectionListed(raw);
    for (const [name, value] of pairs(out)) {
      const n = name.toLowerCase();
      // Envoy's sanitizeTEHeader: TE goes upstream as exactly `trailers` when the client offers it.
      const kept = (keepUpgrade && (n === 'connection' || n === 'upgrade')) || (n === 'te' && value === 'trailers');
      if (HOP.includes(n) && !kept) throw new Error(`hop-by-hop ${name} forwarded`);
      if (n.startsWith(':')) throw new Error(`pseudo-header ${name} forwarded`);
      if (listed.has(n) && !kept && n !== 'host') throw new Error(`${name} is listed in Connection, yet forwarded`);
    }
  })),
  fuzzProperty('headers: every other field goes upstream unchanged and in order', fc.property(rawHeaders, (raw) => {
    const out = forwardRequestHeaders(raw, 'h', false, false).headers;
    const listed = connectionListed(raw);
    const special = new Set([...HOP, 'host', 'traceparent', 'tracestate', ...listed]);
    const keep = (p: [string, string][]) => p.filter(([n]) => !special.has(n.toLowerCase()) && !n.startsWith(':'));
    const sent = keep(pairs(out)).filter(([n], i, all) => !(n === 'x-request-id' && i === all.length - 1 && !values(raw, 'x-request-id').length));
    const want = keep(pairs(raw));
    if (JSON.stringify(sent.slice(0, want.length)) !== JSON.stringify(want)) throw new Error(`sent ${JSON.stringify(sent)}, want ${JSON.stringify(want)}`);
  })),
  fuzzProperty('headers: exactly one valid traceparent and at least one x-request-id go upstream', fc.property(rawHeaders, fc.boolean(), (raw, ownSpan) => {
    const f = forwardRequestHeaders(raw, 'h', false, ownSpan);
    const tp = values(f.headers, 'traceparent');
    if (tp.length !== 1 || !TRACEPARENT.test(tp[0]) || tp[0] !== f.traceparent) throw new Error(`traceparent ${JSON.stringify(tp)}`);
    const ids = values(f.headers, 'x-request-id');
    if (!ids.includes(f.requestId)) throw new Error(`x-request-id ${JSON.stringify(ids)} lacks ${f.requestId}`);
    // A new trace drops the client's tracestate (it belongs to the traceparent it came with).
    const clientTp = values(raw, 'traceparent').map((v) => v.trim()).find((v) => TRACEPARENT.test(v));
    if (!clientTp && values(f.headers, 'tracestate').length) throw new Error('tracestate kept on a new trace');
  })),
  fuzzProperty('headers: response heads lose hop-by-hop and Connection-listed fields, keep the rest', fc.property(rawHeaders, (raw) => {
    const head = { grpcStatus: undefined, rateLimited: false };
    const out = forwardResponseHead(raw, head);
    const listed = connectionListed(raw);
    for (const [n] of pairs(out)) {
      if (HOP.includes(n) || listed.has(n) || n.startsWith(':') || n !== n.toLowerCase()) throw new Error(`${n} forwarded`);
    }
    const want = pairs(raw).filter(([n]) => { const l = n.toLowerCase(); return !HOP.includes(l) && !listed.has(l) && !l.startsWith(':'); });
    if (want.length !== out.length / 2) throw new Error(`kept ${out.length / 2} of ${want.length}`);
  })),
  fuzzProperty('header-ops: set replaces (one field, the last value set), remove removes, add appends', fc.property(rawHeaders, headerOps, (raw, ops) => {
    const out = applyHeaderOps(raw, ops);
    const names = new Set([...pairs(raw).map(([n]) => n.toLowerCase()), ...ops.set.map(([n]) => n), ...ops.add.map(([n]) => n)]);
    for (const name of names) {
      const sets = ops.set.filter(([n]) => n === name).map(([, v]) => v);
      const adds = ops.add.filter(([n]) => n === name).map(([, v]) => v);
      const before = ops.remove.includes(name) || sets.length ? [] : values(raw, name);
      const want = [...before, ...sets.slice(-1), ...adds];
      const got = values(out, name);
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${name}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
  })),
  fuzzProperty('header-ops: mergeOps keeps every edit of both sides, in order', fc.property(fc.option(headerOps, { nil: undefined }), fc.option(headerOps, { nil: undefined }), (a, b) => {
    const m = mergeOps(a, b);
    const cat = (k: 'set' | 'add' | 'remove') => JSON.stringify([...(a?.[k] ?? []), ...(b?.[k] ?? [])]);
    if (!a && !b) { if (m !== undefined) throw new Error('merged nothing into something'); return; }
    for (const k of ['set', 'add', 'remove'] as const) if (JSON.stringify(m?.[k]) !== cat(k)) throw new Error(`${k} differs`);
  })),
];
