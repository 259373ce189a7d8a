// credentialName Secrets in Kubernetes mode: only the Secrets that the served snapshot references are
// read, each through its own list+watch with `fieldSelector=metadata.name=<name>` in the waypoint's
// namespace (and the same for Istio's `<name>-cacert` companion). So the waypoint needs no
// cluster-wide Secret access: a Role in its own namespace with get/list/watch on secrets, which may be
// narrowed with resourceNames to exactly the credential Secrets (RBAC allows list/watch by name when
// the request carries that field selector).
import type { TlsOrigination } from '../model/cluster-policy.ts';
import { credentialMaterial, type CredentialProvider, type SecretData } from '../model/credentials.ts';
import type { Snapshot } from '../model/snapshot.ts';

/** Starts a named-object watch; returns stop and a promise of its first list. */
export type NamedWatch = (namespace: string, name: string, on: { put(data: SecretData): void }) => { stop(): void; synced: Promise<void> };

type Log = (message: string, fields?: Record<string, unknown>) => void;

interface Tracked {
  readonly mutual: boolean;
  readonly stops: (() => void)[];
  main: SecretData | undefined;
  cacert: SecretData | undefined;
  /** The last problem reported, so a relist with the same state does not log again. */
  reported?: string;
}

/** The credentials a snapshot's clusters use: `namespace/name` -> whether a key pair is needed. */
export function credentialRefs(snap: Snapshot): Map<string, boolean> {
  const refs = new Map<string, boolean>();
  for (const c of snap.clusters.values()) {
    const t: TlsOrigination | undefined = c.policy?.tls;
    if (!t?.credential) continue;
    const key = `${t.credential.namespace}/${t.credential.name}`;
    refs.set(key, (refs.get(key) ?? false) || t.mode === 'MUTUAL');
  }
  return refs;
}

export class SecretCache implements CredentialProvider {
  #watch: NamedWatch;
  #warn: Log;
  #info: Log;
  #tracked = new Map<string, Tracked>();
  /** First lists still awaited by synced(); only the first sync waits (later ones fail closed meanwhile). */
  #pending: Promise<void>[] | undefined = [];

  constructor(watch: NamedWatch, warn: Log, info: Log = warn) {
    this.#watch = watch;
    this.#warn = warn;
    this.#info = info;
  }

  lookup(namespace: string, name: string) {
    const t = this.#tracked.get(`${namespace}/${name}`);
    // Not read until both are listed: the companion's CA must not arrive after a connection used another.
    return { main: t?.cacert === undefined ? undefined : t.main, cacert: t?.cacert };
  }

  /** Number of Secrets watched (each credential and its `-cacert` companion). */
  get watches(): number {
    return this.#tracked.size * 2;
  }

  /** Watches exactly the Secrets in `refs`: new ones start, ones no longer referenced stop. */
  track(refs: ReadonlyMap<string, boolean>): void {
    for (const [key, t] of this.#tracked) {
      if (refs.get(key) === t.mutual) continue;
      for (const stop of t.stops) stop();
      this.#tracked.delete(key);
    }
    for (const [key, mutual] of refs) {
      if (this.#tracked.has(key)) continue;
      const [ns, name] = key.split('/') as [string, string];
      const t: Tracked = { mutual, stops: [], main: undefined, cacert: undefined };
      this.#tracked.set(key, t);
      // `undefined` until listed; the companion is only looked at once the main Secret's list is done.
      const main = this.#watch(ns, name, { put: (d) => { t.main = d; this.#check(key, t); } });
      const ca = this.#watch(ns, `${name}-cacert`, { put: (d) => { t.cacert = d; this.#check(key, t); } });
      t.stops.push(main.stop, ca.stop);
      this.#pending?.push(main.synced, ca.synced);
    }
  }

  /** Resolves when every watch started so far has listed once. */
  async synced(): Promise<void> {
    const p = this.#pending ?? [];
    this.#pending = undefined;
    await Promise.all(p);
  }

  close(): void {
    for (const t of this.#tracked.values()) for (const stop of t.stops) stop();
    this.#tracked.clear();
  }

  #check(key: string, t: Tracked): void {
    if (t.main === undefined || t.cacert === undefined) return;
    const m = credentialMaterial(key, t.main, t.cacert, t.mutual);
    const problem = typeof m === 'string' ? m : undefined;
    if (problem === t.reported) return;
    t.reported = problem;
    if (problem) this.#warn(`${problem}. Upstream TLS connections that use it fail (fail closed) until it is fixed`, { secret: key });
    else this.#info(`Secret ${key} (credentialName) loaded; new upstream connections use it`, { secret: key });
  }
}
