// Kubernetes Events on objects Egressway rejects (the API server accepted them; our validation did not),
// so `kubectl describe` / `kubectl get events` shows the reason next to the object, not only the log.
//
// One Event per (object, message), named deterministically from both: a resync, a relist after an API
// server restart, another replica or a restarted pod finds the same Event (409 on create) and leaves it
// alone when it already names this resourceVersion; a new version rejected for the same reason bumps
// the Event's `count` (an Event series) instead of adding an Event. When a rejected object is accepted
// again, one Normal `EgresswayAccepted` Event says so (Events cannot be withdrawn; they expire with the
// API server's event TTL, 1 h by default). Writes are capped (a burst of bad objects cannot flood the
// API server); what is dropped is still in the log.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';

export interface EventTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly uid?: string;
  readonly resourceVersion: string;
}

export type ApiCall = (method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown) => Promise<{ status: number; body: unknown }>;

export const REJECTED_REASON = 'EgresswayRejected';
export const ACCEPTED_REASON = 'EgresswayAccepted';
const MAX_MESSAGE = 1024;

interface KubeEvent {
  metadata?: { resourceVersion?: string };
  count?: number;
  involvedObject?: { resourceVersion?: string };
}

export class EventRecorder {
  #call: ApiCall;
  #warn: (message: string) => void;
  #instance: string;
  #budget: number;
  #perWindow: number;
  #window?: NodeJS.Timeout;
  #dropped = 0;
  #forbiddenSaid = false;
  #queue: Promise<void> = Promise.resolve();

  constructor(call: ApiCall, warn: (message: string) => void, o: { perWindow?: number; windowMs?: number } = {}) {
    this.#call = call;
    this.#warn = warn;
    this.#instance = process.env.POD_NAME ?? hostname();
    this.#perWindow = this.#budget = o.perWindow ?? 20;
    this.#window = setInterval(() => {
      if (this.#dropped) this.#warn(`${this.#dropped} Kubernetes Event(s) about rejected objects were not written (more than ${this.#perWindow} in ${(o.windowMs ?? 10_000) / 1000} s); the log above has every rejection`);
      this.#dropped = 0;
      this.#budget = this.#perWindow;
    }, o.windowMs ?? 10_000).unref();
  }

  rejected(t: EventTarget, message: string): void {
    this.#record(t, 'Warning', REJECTED_REASON, `Egressway rejected ${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name}@${t.resourceVersion}: ${message}`);
  }

  accepted(t: EventTarget): void {
    this.#record(t, 'Normal', ACCEPTED_REASON, `Egressway accepted ${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name}@${t.resourceVersion}; the earlier rejection no longer applies`);
  }

  /** Resolves when the writes queued so far are done (tests). */
  flush(): Promise<void> {
    return this.#queue;
  }

  close(): void {
    clearInterval(this.#window);
  }

  #record(t: EventTarget, type: 'Warning' | 'Normal', reason: string, full: string): void {
    if (this.#budget <= 0) {
      this.#dropped++;
      return;
    }
    this.#budget--;
    const message = full.length > MAX_MESSAGE ? `${full.slice(0, MAX_MESSAGE - 3)}...` : full;
    // The series key leaves the resourceVersion out: the same reason on a new version is the same series.
    const series = reason === REJECTED_REASON ? full.replace(`@${t.resourceVersion}:`, ':') : reason;
    const name = `${t.name.slice(0, 200)}.egw-${createHash('sha256').update(`${t.uid ?? ''}\n${series}`).digest('hex').slice(0, 12)}`;
    this.#queue = this.#queue.then(() => this.#write(t, type, reason, message, name)).catch((err: unknown) => {
      this.#warn(`cannot write a Kubernetes Event for ${t.kind} ${t.namespace ?? ''}/${t.name} (${(err as Error).message}); the log line stands`);
    });
  }

  async #write(t: EventTarget, type: string, reason: string, message: string, name: string): Promise<void> {
    const ns = t.namespace || 'default';
    const base = `/api/v1/namespaces/${ns}/events`;
    const now = new Date().toISOString();
    const involvedObject = { apiVersion: t.apiVersion, kind: t.kind, name: t.name, ...(t.namespace ? { namespace: t.namespace } : {}), ...(t.uid ? { uid: t.uid } : {}), resourceVersion: t.resourceVersion };
    const created = await this.#call('POST', base, {
      apiVersion: 'v1', kind: 'Event', metadata: { name, namespace: ns }, involvedObject, type, reason, message,
      count: 1, firstTimestamp: now, lastTimestamp: now, source: { component: 'egressway', host: this.#instance },
      reportingComponent: 'egressway', reportingInstance: this.#instance,
    });
    if (created.status === 201 || created.status === 200) return;
    if (created.status === 403) return this.#forbidden(ns);
    if (created.status !== 409) throw new Error(`POST ${base}: HTTP ${created.status}`);
    const path = `${base}/${name}`;
    // Optimistic concurrency: two replicas that both saw the new version count it once (409 -> re-read).
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await this.#call('GET', path);
      if (existing.status === 403) return this.#forbidden(ns);
      if (existing.status !== 200) throw new Error(`GET ${path}: HTTP ${existing.status}`);
      const ev = existing.body as KubeEvent;
      // Already about this version (a resync, another replica, a restart): nothing new happened.
      if (ev.involvedObject?.resourceVersion === t.resourceVersion) return;
      const patched = await this.#call('PATCH', path, {
        metadata: { resourceVersion: ev.metadata?.resourceVersion }, count: (ev.count ?? 1) + 1, lastTimestamp: now, message,
        involvedObject: { resourceVersion: t.resourceVersion },
      });
      if (patched.status === 403) return this.#forbidden(ns);
      if (patched.status === 200) return;
      if (patched.status !== 409) throw new Error(`PATCH ${path}: HTTP ${patched.status}`);
    }
  }

  #forbidden(ns: string): void {
    if (this.#forbiddenSaid) return;
    this.#forbiddenSaid = true;
    this.#warn(`this identity may not write Events (namespace ${ns}): rejected objects are reported in the log only. Next: grant it create, get and patch on events (core group) in the namespaces it reads`);
  }
}
