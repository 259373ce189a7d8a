// Leader election through a coordination.k8s.io/v1 Lease, following client-go's leaderelection:
// - every retry period a candidate reads the Lease; it takes it when there is none, when it is
//   released (no holder), or when the holder has not renewed it for a lease duration, measured on
//   OUR clock from when we last saw the record change (never the holder's timestamps: clocks skew);
// - every write carries the resourceVersion it read, so two candidates never both win (409);
// - the leader renews every retry period, and steps down when it could not renew for the renew
//   deadline, before any other candidate can consider the lease expired;
// - release() (SIGTERM) hands the lease back at once: holder cleared, so a follower takes over at
//   its next retry instead of after a lease duration.
import { apiError, type KubeApi } from './kube-api.ts';

export interface LeaseOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  /** client-go default 15 s; renew deadline and retry period keep client-go's 15:10:2 ratio. */
  readonly leaseDurationMs: number;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  readonly warn: (message: string) => void;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

interface Lease {
  metadata: { resourceVersion?: string; name?: string; namespace?: string };
  spec?: LeaseSpec;
}

/** MicroTime, as the API server stores it. */
function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  #api: KubeApi;
  #o: LeaseOptions;
  #leader = false;
  #stopped = false;
  #timer?: NodeJS.Timeout;
  /** The record as last seen, and when (our clock) it last changed. */
  #observed?: { key: string; at: number };
  #lastRenew = 0;
  readonly retryMs: number;
  readonly renewDeadlineMs: number;

  constructor(api: KubeApi, o: LeaseOptions) {
    this.#api = api;
    this.#o = o;
    this.retryMs = Math.max(100, Math.round((o.leaseDurationMs * 2) / 15));
    this.renewDeadlineMs = Math.round((o.leaseDurationMs * 10) / 15);
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  get #path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases`;
  }

  /** The attempt under way, if any: release() waits for it, or its renewal would beat the release (409). */
  #inflight?: Promise<void>;

  start(): void {
    void this.#tick();
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    let ok = false;
    let settle!: () => void;
    this.#inflight = new Promise((r) => (settle = r));
    try {
      ok = await this.#tryAcquireOrRenew();
    } catch (err) {
      this.#o.warn(`lease ${this.#o.namespace}/${this.#o.name}: ${(err as Error).message}; retrying in ${this.retryMs} ms`);
    } finally {
      settle();
    }
    if (this.#stopped) return;
    if (ok) {
      this.#lastRenew = Date.now();
      if (!this.#leader) {
        this.#leader = true;
        this.#o.onStartedLeading();
      }
    } else if (this.#leader && Date.now() - this.#lastRenew > this.renewDeadlineMs) {
      this.#stepDown();
    }
    this.#timer = setTimeout(() => void this.#tick(), this.retryMs);
  }

  #stepDown(): void {
    if (!this.#leader) return;
    this.#leader = false;
    this.#o.onStoppedLeading();
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    const got = await this.#api.get(`${this.#path}/${this.#o.name}`);
    const durationS = Math.max(1, Math.round(this.#o.leaseDurationMs / 1000));
    if (got.status === 404) {
      const spec: LeaseSpec = { holderIdentity: this.#o.identity, leaseDurationSeconds: durationS, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 };
      const made = await this.#api.call('POST', this.#path, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.#o.name, namespace: this.#o.namespace }, spec });
      if (made.status === 201) return true;
      if (made.status === 409) return false; // another candidate created it first
      throw new Error(`create: ${apiError(made)}; ${made.status === 404 ? `create the namespace ${this.#o.namespace}, or pass --lease-namespace` : `grant create on leases in ${this.#o.namespace}`}`);
    }
    if (got.status !== 200) throw new Error(`get: ${apiError(got)}; grant get and update on leases in ${this.#o.namespace}`);
    const lease = got.body as unknown as Lease;
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity ?? ''}|${spec.renewTime ?? ''}|${spec.acquireTime ?? ''}`;
    if (this.#observed?.key !== key) this.#observed = { key, at: Date.now() };
    const holder = spec.holderIdentity ?? '';
    const mine = holder === this.#o.identity;
    const held = holder !== '' && !mine;
    const expiresAt = this.#observed.at + (spec.leaseDurationSeconds ?? durationS) * 1000;
    if (held && Date.now() < expiresAt) return false;
    const next: LeaseSpec = {
      ...spec, holderIdentity: this.#o.identity, leaseDurationSeconds: durationS, renewTime: microTime(now),
      ...(mine ? {} : { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
    };
    const put = await this.#api.call('PUT', `${this.#path}/${this.#o.name}`, { ...lease, spec: next });
    if (put.status === 200) {
      const s = (put.body as unknown as Lease).spec ?? {};
      this.#observed = { key: `${s.holderIdentity ?? ''}|${s.renewTime ?? ''}|${s.acquireTime ?? ''}`, at: Date.now() };
      return true;
    }
    if (put.status === 409) return false; // someone else wrote it since we read it
    throw new Error(`update: ${apiError(put)}; grant update on leases in ${this.#o.namespace}`);
  }

  /** Stops campaigning; when leading, hands the lease back so a follower takes over at once. */
  async release(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inflight;
    if (!this.#leader) return;
    this.#stepDown();
    try {
      // A 409 means the lease changed since we read it (our own renewal, just finished): read again.
      for (let attempt = 0; attempt < 3; attempt++) {
        const got = await this.#api.get(`${this.#path}/${this.#o.name}`);
        const lease = got.body as unknown as Lease;
        if (got.status !== 200 || lease.spec?.holderIdentity !== this.#o.identity) return;
        const now = microTime();
        const put = await this.#api.call('PUT', `${this.#path}/${this.#o.name}`, { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now } });
        if (put.status !== 409) {
          if (put.status !== 200) throw new Error(apiError(put));
          return;
        }
      }
      throw new Error('the lease kept changing (HTTP 409)');
    } catch (err) {
      this.#o.warn(`lease ${this.#o.namespace}/${this.#o.name}: release failed (${(err as Error).message}); a follower takes over when it expires`);
    }
  }
}
