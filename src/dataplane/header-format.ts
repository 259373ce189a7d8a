// Envoy's header value formatter for route header edits: `%%` is `%`, `%VARIABLE%` and
// `%REQ(name)%` / `%REQ(a?b):N%` are filled in from the request. Only for HeaderOps marked
// `dynamic` at compile time (a value with a variable), so static edits never come here.
import { hostname } from 'node:os';
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestRecord } from '../telemetry/record.ts';

const HOST = hostname();

/** A formatter for one request's values. */
export function headerFormat(r: RequestRecord, headers: IncomingHttpHeaders): (value: string) => string {
  return (value) => formatValue(value, r, headers);
}

export function formatValue(v: string, r: RequestRecord, headers: IncomingHttpHeaders): string {
  let out = '';
  let i = 0;
  while (i < v.length) {
    const p = v.indexOf('%', i);
    if (p < 0) return out + v.slice(i);
    out += v.slice(i, p);
    if (v[p + 1] === '%') {
      out += '%';
      i = p + 2;
      continue;
    }
    // The command ends at the next `%` outside parentheses (REQ's argument may hold none, but be safe).
    let end = p + 1;
    let depth = 0;
    while (end < v.length && (v[end] !== '%' || depth > 0)) {
      if (v[end] === '(') depth++;
      else if (v[end] === ')') depth--;
      end++;
    }
    out += command(v.slice(p + 1, end), r, headers);
    i = end + 1;
  }
  return out;
}

function withoutPort(a: string): string {
  if (a.startsWith('[')) return a.slice(1, a.indexOf(']'));
  const c = a.lastIndexOf(':');
  return c < 0 || a.indexOf(':') !== c ? a : a.slice(0, c);
}

function portOf(a: string): string {
  const c = a.lastIndexOf(':');
  return c < 0 ? '' : a.slice(c + 1);
}

function command(cmd: string, r: RequestRecord, headers: IncomingHttpHeaders): string {
  const req = /^REQ\(([^)]*)\)(?::(\d+))?$/.exec(cmd);
  if (req) {
    const [main, alt] = req[1]!.split('?');
    const get = (n: string | undefined) => {
      const x = n ? headers[n.toLowerCase()] : undefined;
      return Array.isArray(x) ? x.join(',') : x;
    };
    const value = get(main) ?? get(alt) ?? '';
    return req[2] ? value.slice(0, Number(req[2])) : value;
  }
  switch (cmd) {
    case 'DOWNSTREAM_REMOTE_ADDRESS': return r.downstreamRemoteAddress;
    case 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT': return withoutPort(r.downstreamRemoteAddress);
    case 'DOWNSTREAM_REMOTE_PORT': return portOf(r.downstreamRemoteAddress);
    case 'DOWNSTREAM_LOCAL_ADDRESS': return r.downstreamLocalAddress;
    case 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT': return withoutPort(r.downstreamLocalAddress);
    case 'DOWNSTREAM_LOCAL_PORT': return portOf(r.downstreamLocalAddress);
    case 'PROTOCOL': return r.protocol;
    case 'HOSTNAME': return HOST;
    case 'START_TIME': return new Date(r.startTime).toISOString();
    case 'UPSTREAM_REMOTE_ADDRESS': case 'UPSTREAM_HOST': return r.upstreamHost === '-' ? '' : r.upstreamHost;
    default: return `%${cmd}%`;
  }
}
