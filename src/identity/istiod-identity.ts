// The waypoint's workload certificate from istiod's CA, kept current the way pilot-agent's secret
// manager does (security/pkg/nodeagent/cache/secretcache.go): a new key and CSR per certificate;
// rotation when less than SECRET_GRACE_PERIOD_RATIO (0.5) of the lifetime is left, ±1% jitter,
// lifetime counted from when the certificate arrived; retries with exponential backoff while istiod
// fails (the current certificate keeps serving until it expires); and a new certificate at once
// when the mesh root file (the istio-ca-root-cert ConfigMap) changes, with the new bundle trusted.
import { X509Certificate } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from '../telemetry/logger.ts';
import { createKeyAndCsr } from './csr.ts';
import { CaError, IstioCaClient, type CaErrorKind } from './istio-ca-client.ts';
import { mergeBundles, pemCertificates, type IdentitySource, type TlsMaterial } from './source.ts';

export interface IstiodIdentityOptions {
  readonly address: string;
  readonly serverName?: string;
  readonly rootCertFile: string;
  readonly tokenFile: string;
  readonly clusterId: string;
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Requested lifetime (pilot-agent SECRET_TTL, 24 h); istiod may cap it (MAX_WORKLOAD_CERT_TTL). */
  readonly ttlSeconds: number;
  /** Rotate when this fraction of the lifetime is left (SECRET_GRACE_PERIOD_RATIO). */
  readonly graceRatio: number;
  readonly log: Logger;
  /** Backoff between failed attempts: doubles from min to max (tests shorten it). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
}

export interface IdentityStats {
  readonly notAfter: Date | undefined;
  /** Certificates obtained after the first one. */
  readonly rotations: number;
  readonly errors: ReadonlyMap<CaErrorKind, number>;
}

export class IstiodIdentity implements IdentitySource {
  readonly spiffeId: string;
  readonly #o: IstiodIdentityOptions;
  #client: IstioCaClient;
  #root: string;
  #current: TlsMaterial | undefined;
  #notAfter: Date | undefined;
  #rotations = 0;
  #errors = new Map<CaErrorKind, number>();
  #listeners: ((m: TlsMaterial) => void)[] = [];
  #timer: NodeJS.Timeout | undefined;
  #watcher: FSWatcher | undefined;
  #rootTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #fetching: Promise<void> | undefined;

  private constructor(o: IstiodIdentityOptions, root: string) {
    this.#o = o;
    this.#root = root;
    this.spiffeId = `spiffe://${o.trustDomain}/ns/${o.namespace}/sa/${o.serviceAccount}`;
    this.#client = this.#newClient();
  }

  /**
   * Reads the root, then asks istiod until it signs (logging each failure with its next step).
   * Rejects at once only for what waiting cannot fix: an unreadable root or token file.
   */
  static async start(o: IstiodIdentityOptions): Promise<IstiodIdentity> {
    const id = new IstiodIdentity(o, await readRoot(o.rootCertFile));
    try {
      await id.#fetchUntilSigned(true);
      if (!id.#current) throw new Error('istiod CA: closed before the first certificate arrived');
    } catch (err) {
      id.close();
      throw err;
    }
    id.#watchRoot();
    return id;
  }

  get current(): TlsMaterial {
    return this.#current!;
  }

  get stats(): IdentityStats {
    return { notAfter: this.#notAfter, rotations: this.#rotations, errors: this.#errors };
  }

  onChange(listener: (m: TlsMaterial) => void): void {
    this.#listeners.push(listener);
  }

  /** Fetches a new certificate now (also what the rotation timer and a root change do). */
  rotate(): Promise<void> {
    this.#fetching ??= this.#fetchUntilSigned(false).finally(() => (this.#fetching = undefined));
    return this.#fetching;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#rootTimer);
    this.#watcher?.close();
    this.#client.close();
  }

  #newClient(): IstioCaClient {
    const o = this.#o;
    return new IstioCaClient({ address: o.address, serverName: o.serverName, rootPem: this.#root, rootFile: o.rootCertFile, tokenFile: o.tokenFile, clusterId: o.clusterId });
  }

  async #fetchUntilSigned(first: boolean): Promise<void> {
    const min = this.#o.retryMinMs ?? 1000;
    const max = this.#o.retryMaxMs ?? 30_000;
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        return await this.#fetchOnce(first);
      } catch (err) {
        const e = err instanceof CaError ? err : new CaError('rejected', (err as Error).message);
        this.#errors.set(e.kind, (this.#errors.get(e.kind) ?? 0) + 1);
        // A missing or wrong token at startup is a deployment error; later the kubelet may fix it.
        if (first && e.kind === 'token') throw e;
        const wait = Math.min(max, min * 2 ** Math.min(attempt, 16));
        const left = this.#notAfter ? `; the current certificate is valid until ${this.#notAfter.toISOString()}` : '; HBONE waits for a first certificate';
        this.#o.log.warn({ kind: e.kind, retryInMs: wait }, `istiod CA: ${e.message} (retry in ${wait} ms${left})`);
        await new Promise<void>((r) => {
          this.#timer = setTimeout(r, wait);
        });
      }
    }
  }

  async #fetchOnce(first: boolean): Promise<void> {
    const { key, csr } = await createKeyAndCsr(this.spiffeId);
    const received = Date.now();
    const chain = await this.#client.createCertificate(csr, this.#o.ttlSeconds);
    const material = this.#material(chain, key);
    const leaf = new X509Certificate(chain[0]!);
    this.#current = material;
    this.#notAfter = new Date(leaf.validTo);
    if (!first) this.#rotations++;
    this.#schedule(received, this.#notAfter.getTime());
    this.#o.log.info({ spiffeId: this.spiffeId, notAfter: this.#notAfter.toISOString(), rotation: this.#rotations }, first ? 'istiod CA: certificate issued' : 'istiod CA: certificate rotated; open tunnels keep their connections');
    if (!first) for (const l of this.#listeners) l(material);
  }

  /** Leaf and intermediates to serve, the mesh roots (file and istiod's answer) to trust; checked. */
  #material(chain: string[], key: string): TlsMaterial {
    const certs = chain.flatMap(pemCertificates);
    const leaf = new X509Certificate(certs[0]!);
    const uris = (leaf.subjectAltName ?? '').split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
    if (!uris.includes(this.spiffeId)) {
      throw new CaError('bad_response', `istiod issued ${uris.join(', ') || 'no SPIFFE ID'} for this token, not ${this.spiffeId}: the token's service account, --namespace/--service-account and --trust-domain must agree (istiod signs for the token's service account in its mesh trust domain)`);
    }
    const root = certs[certs.length - 1]!;
    if (!mergeBundles(this.#root).includes(root.trim())) {
      this.#o.log.warn(`istiod CA: istiod signs under a root that is not in ${this.#o.rootCertFile}; trusting both (a root rotation in progress?)`);
    }
    const m = { cert: certs.slice(0, -1).join(''), key, ca: mergeBundles(this.#root, root) };
    createSecureContext(m);
    return m;
  }

  #schedule(receivedMs: number, notAfterMs: number): void {
    const jitter = Math.random() * 0.01 * (Math.random() < 0.5 ? -1 : 1);
    const ratio = Math.min(1, Math.max(0, this.#o.graceRatio + jitter));
    const at = notAfterMs - ratio * (notAfterMs - receivedMs);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.rotate(), Math.max(0, at - Date.now()));
    this.#timer.unref();
  }

  /** The ConfigMap volume swaps `..data`; a changed root gets a new client and a new certificate. */
  #watchRoot(): void {
    const file = resolve(this.#o.rootCertFile);
    const name = basename(file);
    this.#watcher = watch(dirname(file), (_e, n) => {
      if (n !== null && n !== name && n !== '..data') return;
      clearTimeout(this.#rootTimer);
      this.#rootTimer = setTimeout(() => void this.#reloadRoot(), 100);
      this.#rootTimer.unref();
    });
    this.#watcher.on('error', (err) => this.#o.log.warn(`istiod CA: cannot watch ${this.#o.rootCertFile}: ${err.message}`));
    this.#watcher.unref();
  }

  async #reloadRoot(): Promise<void> {
    let root;
    try {
      root = await readRoot(this.#o.rootCertFile);
    } catch (err) {
      return void this.#o.log.warn(`istiod CA: ${(err as Error).message}; keeping the previous root`);
    }
    if (root === this.#root || this.#closed) return;
    this.#root = root;
    this.#client.close();
    this.#client = this.#newClient();
    this.#o.log.info({ file: this.#o.rootCertFile }, 'istiod CA: mesh root changed; trusting the new bundle and getting a new certificate');
    // A fetch already in flight used the old client; sign again once it is done.
    await this.#fetching;
    await this.rotate();
  }
}

async function readRoot(file: string): Promise<string> {
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CaError('root_mismatch', `cannot read the mesh root ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); mount the istio-ca-root-cert ConfigMap there or pass --ca-root-cert`);
  }
  const certs = pemCertificates(text);
  try {
    if (!certs.length) throw new Error('no PEM certificate');
    for (const c of certs) new X509Certificate(c);
  } catch (err) {
    throw new CaError('root_mismatch', `${file} is not a PEM root certificate (${(err as Error).message}); it should be root-cert.pem from the istio-ca-root-cert ConfigMap`);
  }
  return certs.join('');
}
