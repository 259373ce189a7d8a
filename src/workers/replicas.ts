// A worker's copies of what the primary owns (`run --concurrency N`): the Kubernetes source's
// credentialName Secrets, the pod-IP index and istiod's certificate. Each implements the interface
// the request path already reads (CredentialProvider, PodIdentities, IdentitySource), filled from the
// worker's init and then from the primary's messages (protocol.ts).
import type { IdentitySource, TlsMaterial } from '../identity/source.ts';
import type { CredentialEntries, CredentialProvider } from '../model/credentials.ts';
import type { PodIdentities, PodWorkload } from '../model/identity.ts';
import type { PodDelta } from './protocol.ts';

const NOT_READ = { main: undefined, cacert: undefined } as const;

export class CredentialReplica implements CredentialProvider {
  #entries: CredentialEntries;
  constructor(entries: CredentialEntries) {
    this.#entries = entries;
  }
  lookup(namespace: string, name: string) {
    return this.#entries[`${namespace}/${name}`] ?? NOT_READ;
  }
  set(entries: CredentialEntries): void {
    this.#entries = entries;
  }
}

export class PodReplica implements PodIdentities {
  readonly namespacesInPolicy: boolean;
  #byIp: Map<string, PodWorkload>;
  constructor(namespacesInPolicy: boolean, entries: readonly (readonly [string, PodWorkload])[]) {
    this.namespacesInPolicy = namespacesInPolicy;
    this.#byIp = new Map(entries);
  }
  lookup(ip: string): PodWorkload | undefined {
    return this.#byIp.get(ip);
  }
  get size(): number {
    return this.#byIp.size;
  }
  apply(delta: PodDelta): void {
    for (const [ip, w] of delta) {
      if (w) this.#byIp.set(ip, w);
      else this.#byIp.delete(ip);
    }
  }
}

export class IdentityReplica implements IdentitySource {
  #current: TlsMaterial;
  #listeners: ((m: TlsMaterial) => void)[] = [];
  constructor(m: TlsMaterial) {
    this.#current = m;
  }
  get current(): TlsMaterial {
    return this.#current;
  }
  onChange(listener: (m: TlsMaterial) => void): void {
    this.#listeners.push(listener);
  }
  set(m: TlsMaterial): void {
    this.#current = m;
    for (const l of this.#listeners) l(m);
  }
  close(): void {
    this.#listeners = [];
  }
}
