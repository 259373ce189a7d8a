// The agent's live config: routes compiled from the mesh config files, reloaded on the waypoint's
// own watcher and debounce (controlplane/file-source.ts), swapped atomically, the last good routes
// kept when a reload fails. Every connection or request reads current() once, when it is accepted,
// and keeps that answer: open tunnels and in-flight requests are not re-routed by a reload.
import { watchPaths, type PathWatch } from '../controlplane/file-source.ts';
import { formatDiagnostic, type Diagnostic } from '../model/diagnostic.ts';
import { loadAgentRoutes, type AddressOverrides, type AgentRoutes } from './routes.ts';

export type AgentLog = (level: 'info' | 'warn' | 'error', msg: string) => void;

export type ReloadOutcome = 'swapped' | 'unchanged' | 'rejected';

export class AgentConfig {
  #paths: readonly string[];
  #overrides: AddressOverrides;
  #log: AgentLog;
  #current: AgentRoutes;
  #watch: PathWatch | undefined;
  #closed = false;
  #tail: Promise<unknown> = Promise.resolve();
  #queued: Promise<ReloadOutcome> | undefined;

  /** The first load; a config with errors throws, since there is no last good config to keep. */
  static async load(paths: readonly string[], overrides: AddressOverrides, log: AgentLog = () => {}): Promise<AgentConfig> {
    const r = await loadAgentRoutes(paths, overrides);
    if (!r.routes) throw new Error(`the config has errors:\n${errorsOf(r.diagnostics).map(formatDiagnostic).join('\n')}`);
    warnUnaddressed(r.routes, log);
    return new AgentConfig(paths, overrides, log, r.routes);
  }

  private constructor(paths: readonly string[], overrides: AddressOverrides, log: AgentLog, routes: AgentRoutes) {
    this.#paths = paths;
    this.#overrides = overrides;
    this.#log = log;
    this.#current = routes;
  }

  current(): AgentRoutes {
    return this.#current;
  }

  /** Reloads now. Runs one at a time; calls made during a run share the one run queued after it. */
  reload(): Promise<ReloadOutcome> {
    if (this.#queued) return this.#queued;
    const next = this.#tail.then(() => {
      this.#queued = undefined;
      return this.#reloadOnce();
    });
    this.#queued = next;
    this.#tail = next.catch(() => {});
    return next;
  }

  async watch(): Promise<void> {
    const w = await watchPaths(this.#paths, () => void this.reload().catch((err: Error) => {
      this.#log('error', `config reload failed, still routing with the last good config: ${err.message}`);
    }));
    if (this.#closed) w.close();
    else this.#watch = w;
  }

  close(): void {
    this.#closed = true;
    this.#watch?.close();
    this.#watch = undefined;
  }

  async #reloadOnce(): Promise<ReloadOutcome> {
    if (this.#closed) return 'unchanged';
    const r = await loadAgentRoutes(this.#paths, this.#overrides);
    if (!r.routes) {
      this.#log('error', rejectedLine(errorsOf(r.diagnostics), this.#paths));
      return 'rejected';
    }
    const prev = this.#current;
    if (r.routes.version === prev.version) return 'unchanged';
    this.#current = r.routes;
    const list = r.routes.waypoints.map((w) => `${w.key} at ${w.address}`).join(', ') || 'none with an address';
    this.#log('info', `config reloaded: waypoints ${list}; new connections and requests use it, open ones keep the config they started with`);
    if (prev.waypoints.length > 0) warnUnaddressed(r.routes, this.#log);
    return 'swapped';
  }
}

function errorsOf(diags: readonly Diagnostic[]): Diagnostic[] {
  return diags.filter((d) => d.level === 'error');
}

/** One line for the operator: where the first error is and how to fix it; the rest are counted. */
function rejectedLine(errors: readonly Diagnostic[], paths: readonly string[]): string {
  const first = errors[0] ? formatDiagnostic(errors[0]) : 'the config did not compile';
  const more = errors.length > 1 ? `; ${errors.length - 1} more error(s): \`egressway analyze ${paths.join(' ')}\` lists them` : '';
  return `config reload rejected, still routing with the last good config: ${first}${more}`;
}

function warnUnaddressed(routes: AgentRoutes, log: AgentLog): void {
  if (routes.waypoints.length === 0) log('warn', 'no waypoint has an address: pass --waypoint-address or set status.addresses on the Gateway; every destination will be refused or sent direct');
}
