// `egressway stat`: per-service golden signals from a running waypoint's admin port, as a terminal
// table in the spirit of `linkerd viz stat` (or JSON with -o json). It only reads /stats/summary.
import type { Command } from 'commander';
import type { SummaryBody } from '../dashboard/admin-server.ts';
import { oneOf, parseDuration, durationOption } from './args.ts';

interface StatFlags {
  admin: string;
  watch: boolean;
  interval: number;
  output: 'table' | 'json';
}

export const DEFAULT_ADMIN = 'http://127.0.0.1:15000/stats/summary';

export function registerStat(program: Command): void {
  program.command('stat')
    .description('per-service RPS, success rate and latency percentiles from a running waypoint')
    .option('--admin <url>', 'admin URL of the waypoint (its /stats/summary)', DEFAULT_ADMIN)
    .option('-w, --watch', 'refresh until interrupted', false)
    .addOption(durationOption('--interval <duration>', 'refresh period with --watch', 2000))
    .option('-o, --output <format>', 'table | json', oneOf(['table', 'json'] as const), 'table')
    .action(async (flags: StatFlags) => stat(flags));
}

/** Accepts a bare admin origin (http://127.0.0.1:15000) as well as the full endpoint URL. */
export function summaryUrl(admin: string): string {
  const u = new URL(admin);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/stats/summary';
  return u.toString();
}

export async function fetchSummary(url: string): Promise<SummaryBody> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}; is this a waypoint admin port?`);
  return await res.json() as SummaryBody;
}

function ms(v: number | null): string {
  if (v === null) return '-';
  return v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v < 10 ? v.toFixed(1) : Math.round(v)}ms`;
}

/** The table as text. TCP is open tunnels when the data plane reports them, else tunnels/s (suffix /s). */
export function formatTable(s: SummaryBody): string {
  const head = ['SERVICE', 'RPS', 'SUCCESS', 'P50', 'P90', 'P99', 'TCP'];
  const rows = s.services.map((x) => [
    x.service, x.rps.toFixed(1), x.successRate === null ? '-' : `${(x.successRate * 100).toFixed(2)}%`,
    ms(x.p50Ms), ms(x.p90Ms), ms(x.p99Ms), x.activeTunnels === null ? `${x.tunnelsPerSec}/s` : String(x.activeTunnels),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const out = [line(head), ...rows.map(line)];
  if (!rows.length) out.push(`(no traffic in the last ${s.windowSeconds} s)`);
  return `${out.join('\n')}\n`;
}

async function stat(f: StatFlags): Promise<void> {
  let url: string;
  try {
    url = summaryUrl(f.admin);
  } catch {
    return fail(`error: --admin "${f.admin}" is not a URL (example: ${DEFAULT_ADMIN})`);
  }
  const once = async (): Promise<void> => {
    const s = await fetchSummary(url);
    const text = f.output === 'json' ? `${JSON.stringify(s, null, 2)}\n` : formatTable(s);
    process.stdout.write(f.watch && f.output === 'table' && process.stdout.isTTY ? `\x1b[H\x1b[2J${text}` : text);
  };
  try {
    await once();
  } catch (err) {
    return fail(`error: cannot read ${url}: ${cause(err)}`);
  }
  if (!f.watch) return;
  const timer = setInterval(() => {
    once().catch((err) => process.stderr.write(`egressway stat: ${cause(err)} (retrying)\n`));
  }, f.interval);
  process.once('SIGINT', () => { clearInterval(timer); process.exit(0); });
  process.once('SIGTERM', () => { clearInterval(timer); process.exit(0); });
}

function cause(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}
