// `egressway check` as text: one labelled line per step, in the order the waypoint takes them.
import { headerList } from './check-ext-authz.ts';
import type { CheckReport } from './check-explain.ts';

export function formatReport(r: CheckReport): string {
  const q = r.request;
  const lines = [
    `request      ${q.method} ${q.url}${q.principal !== null ? ` from ${q.principal}` : ' (no client identity)'}`,
    ...(q.protocol === 'http' && q.path !== null ? [`             :authority ${q.authority}, path ${q.path}`] : []),
    ...(q.sni !== null || q.destinationIp !== null ? [`             ${[q.sni !== null ? `sni ${q.sni}` : '', q.destinationIp !== null ? `destination ip ${q.destinationIp}` : ''].filter(Boolean).join(', ')}`] : []),
    `serviceentry ${r.serviceEntry ?? '(none)'}`,
    `binding      ${r.binding ? `${r.binding.resource}: ${r.binding.bound ? 'bound' : 'not bound'} (${r.binding.reason}) ${r.binding.message}`.trimEnd() : '(none)'}`,
    `route        ${r.route.kind} ${r.route.routeName} -> ${r.route.cluster}${r.route.tcpRoute ? ` (${r.route.tcpRoute})` : ''}${r.route.message ? `: ${r.route.message}` : ''}`,
    ...(r.route.source ? [`             from ${r.route.source}`] : []),
    `jwt          ${r.authentication.summary}`,
    `policies     ${r.policies.length === 0 ? '(none apply)' : r.authentication.outcome === 'failed' ? '(not enforced: jwt_authn refused the request first; as evaluated without a request principal)' : ''}`.trimEnd(),
  ];
  for (const p of r.policies) {
    lines.push(`  ${p.matched ? 'MATCH   ' : 'no match'} ${p.action}${p.dryRun ? ' (dry-run)' : ''} ${p.policy} [${p.scope}]${p.rule !== undefined ? ` rule ${p.rule}` : ''}`);
    for (const w of p.why) lines.push(`             ${w}`);
  }
  for (const c of r.extAuthz.calls) {
    lines.push(`custom       ext-authz provider ${c.provider} (policy ${c.policy} rule ${c.rule})${c.address ? ` at ${c.address}` : ''}: ${c.summary}`);
  }
  const dec = r.decision;
  lines.push(`decision     ${dec.allow ? 'ALLOW' : 'DENY'}: ${dec.reason}`);
  if (dec.details) lines.push(`details      ${dec.details}`);
  if (dec.response) {
    const closed = dec.response.closedAfterAccept ? ', then the tunnel is closed (a policy reads connection.sni, so the CONNECT was answered before the ClientHello was read)' : '';
    lines.push(`response     ${dec.response.status}${closed}, flags ${dec.flags}${dec.response.headers.length ? `, headers ${headerList(dec.response.headers)}` : ''}`);
    if (dec.response.body) lines.push(`body         ${JSON.stringify(dec.response.body.length > 200 ? `${dec.response.body.slice(0, 200)}...` : dec.response.body)}`);
  }
  if (dec.upstreamHeaders) lines.push(`upstream     + ${headerList(dec.upstreamHeaders)}`);
  if (dec.downstreamHeaders) lines.push(`downstream   + ${headerList(dec.downstreamHeaders)}`);
  if (dec.audit) lines.push(`audit        marked by AUDIT policy ${dec.audit.policy}`);
  if (dec.dryRun) lines.push(`dry-run      ${dec.dryRun.wouldDeny ? 'would deny' : 'would allow'}${dec.dryRun.policy ? ` (${dec.dryRun.policy})` : ''}`);
  return `${lines.join('\n')}\n`;
}
