// The dashboard page. Plain DOM and uPlot; every value is inserted with textContent (no HTML
// injection from authorities or paths). History for the charts is kept in the page, one point per poll.
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Egressway</title>
<link rel="stylesheet" href="/assets/uPlot.min.css">
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .2em} h2{font-size:1.05em;margin:1.4em 0 .4em}
table{border-collapse:collapse;width:100%} th,td{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
th:first-child,td:first-child,#recent td{text-align:left} td.bad{color:#b00020;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:1em} .muted{color:#777} code{font-size:.95em}
</style></head><body>
<h1>Egressway</h1>
<div class="muted" id="status">loading…</div>
<h2>Services <span class="muted" id="window"></span></h2>
<table id="services"><thead><tr><th>SERVICE</th><th>NAMESPACE</th><th>RPS</th><th>SUCCESS</th><th>P50 ms</th><th>P90 ms</th><th>P99 ms</th><th>TUNNELS</th><th>DENIALS</th></tr></thead><tbody></tbody></table>
<div class="charts"><div id="chart-qps"></div><div id="chart-p99"></div></div>
<h2>Recent denials and errors</h2>
<table id="recent"><thead><tr><th>TIME</th><th>SERVICE</th><th>AUTHORITY</th><th>METHOD</th><th>PATH</th><th>CODE</th><th>FLAGS</th><th>DETAILS</th></tr></thead><tbody></tbody></table>
<script src="/assets/uPlot.iife.min.js"></script>
<script>
const HISTORY = 150, POLL_MS = 2000;
const times = [], qps = new Map(), p99 = new Map();
const charts = { qps: null, p99: null, key: '' };
const COLORS = ['#1f77b4','#d62728','#2ca02c','#ff7f0e','#9467bd','#8c564b','#e377c2','#17becf'];
function cell(tr, text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); }
function fmt(v, d) { return v === null || v === undefined ? '-' : Number(v).toFixed(d); }
function pct(v) { return v === null ? '-' : (v * 100).toFixed(2) + '%'; }
function rows(body, services) {
  const tb = document.querySelector('#services tbody'); tb.textContent = '';
  for (const s of services) {
    const tr = document.createElement('tr'); tr.dataset.service = s.service;
    cell(tr, s.service); cell(tr, s.namespace); cell(tr, fmt(s.rps, 2));
    cell(tr, pct(s.successRate), s.successRate !== null && s.successRate < 0.99 ? 'bad' : '');
    cell(tr, fmt(s.p50Ms, 1)); cell(tr, fmt(s.p90Ms, 1)); cell(tr, fmt(s.p99Ms, 1));
    cell(tr, s.activeTunnels === null ? String(body.totals.activeTunnels) + ' (all)' : String(s.activeTunnels));
    cell(tr, String(s.denials), s.denials ? 'bad' : '');
    tb.appendChild(tr);
  }
}
function recent(events) {
  const tb = document.querySelector('#recent tbody'); tb.textContent = '';
  for (const e of events) {
    const tr = document.createElement('tr');
    for (const v of [e.time.slice(11, 23), e.service, e.authority, e.method, e.path, String(e.code), e.flags, e.details]) cell(tr, v);
    tb.appendChild(tr);
  }
}
function push(series, names, getter, services) {
  for (const n of names) { if (!series.has(n)) series.set(n, new Array(times.length - 1).fill(null)); }
  for (const [n, arr] of series) { const s = services.find((x) => x.service === n); arr.push(s ? getter(s) : null); if (arr.length > HISTORY) arr.shift(); }
}
function chart(el, title, unit, series) {
  const names = [...series.keys()];
  const opts = { title, width: 520, height: 220, scales: { x: { time: true, range: (u, min, max) => [Math.min(min, max - 60), max] } },
    series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 2, value: (u, v) => v === null ? '-' : v.toFixed(2) + unit }))] };
  const el2 = document.getElementById(el); el2.textContent = '';
  return new uPlot(opts, [times.slice(), ...names.map((n) => series.get(n).slice())], el2);
}
function draw() {
  const key = [...qps.keys()].join(',');
  const data = (series) => [times.slice(), ...[...series.keys()].map((n) => series.get(n).slice())];
  if (key !== charts.key || !charts.qps) {
    charts.qps?.destroy(); charts.p99?.destroy();
    charts.qps = chart('chart-qps', 'Requests per second', ' rps', qps);
    charts.p99 = chart('chart-p99', 'P99 latency', ' ms', p99);
    charts.key = key;
  } else { charts.qps.setData(data(qps)); charts.p99.setData(data(p99)); }
}
async function poll() {
  try {
    const res = await fetch('/stats/summary', { cache: 'no-store' });
    const body = await res.json();
    times.push(Date.parse(body.generatedAt) / 1000); if (times.length > HISTORY) times.shift();
    const names = body.services.map((s) => s.service);
    push(qps, names, (s) => s.rps, body.services);
    push(p99, names, (s) => s.p99Ms, body.services);
    rows(body, body.services); recent(body.recent); draw();
    document.getElementById('window').textContent = '(last ' + body.windowSeconds + ' s)';
    document.getElementById('status').textContent = 'updated ' + body.generatedAt + ' · in flight ' + body.totals.activeRequests + ' requests, ' + body.totals.activeTunnels + ' tunnels';
  } catch (err) { document.getElementById('status').textContent = 'cannot reach /stats/summary: ' + err; }
  setTimeout(poll, POLL_MS);
}
poll();
</script></body></html>
`;
