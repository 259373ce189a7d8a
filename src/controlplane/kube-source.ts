// Kubernetes mode: list+watch every kind the loader reads (and the mesh ConfigMap istio-system/istio)
// through @kubernetes/client-node informers, and feed the same parse → validate → compile path as the
// file source. A sibling of FileSource, not a fork: each API object becomes one document for the same
// parser (its diagnostics name `Kind namespace/name@resourceVersion` where files name file:line).
//
// Consistency rules:
// - The first snapshot is compiled only after EVERY informer finished its first list (ready = synced).
// - A relist (410 Gone, a restarted API server) replaces an informer's cache in one synchronous step, and
//   compiles are debounced, so a half-listed config is never compiled.
// - A watch that fails is restarted with backoff; the cache and the served snapshot stay meanwhile.
// - An object whose new version Egressway rejects keeps its last good version in the compile (istiod
//   keeps serving the last pushed config too) and the rejection is logged with the object's name.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { compile, CompileMemo, type CompileOptions } from '../compile/compile.ts';
import { REGISTRY, validateResource, type KindInfo } from '../config/kinds/index.ts';
import { parseObject } from '../config/parse.ts';
import { RAW_SPEC } from '../config/schema.ts';
import type { Resource } from '../config/resource.ts';
import { hasErrors, type Diagnostic } from '../model/diagnostic.ts';
import { meshCompileOptions, meshConfigOf, type MeshConfig } from './mesh-config.ts';
import { debounce } from './debounce.ts';
import type { ReloadResult } from './file-source.ts';
import type { SnapshotStore } from './store.ts';
import type { CredentialFeed, SecretData } from '../model/credentials.ts';
import { credentialRefs, SecretCache } from './kube-secrets.ts';
import { apiBase, errText, forbiddenHint, request, skeleton, trimOnReceipt } from './kube-client.ts';
import { EventRecorder } from './kube-events.ts';
import type { PodIndex, PodObject } from './kube-pods.ts';

export interface KubeSourceOptions {
  /** kubeconfig file; default: in-cluster config, else $KUBECONFIG / ~/.kube/config. */
  readonly kubeconfig?: string;
  /** Layered over the mesh ConfigMap's options (flags win). */
  readonly compile: CompileOptions;
  readonly onResult: (r: ReloadResult) => void;
  readonly warn: (message: string, fields?: Record<string, unknown>) => void;
  readonly info?: (message: string, fields?: Record<string, unknown>) => void;
  /** --identify-pods-by-ip: list+watch Pods into this index (cluster-wide: list and watch on pods). */
  readonly pods?: PodIndex;
  /** Report rejected objects as Kubernetes Events (default true). */
  readonly events?: boolean;
  /** How often a kind the API server did not serve at start is looked for again. Default 60 s. */
  readonly rediscoverMs?: number;
}

interface Entry {
  /** The version in the API server, as parsed. */
  readonly rv: string;
  /** The newest version that passed validation; what compile uses. */
  readonly good?: Resource;
  readonly diagnostics: readonly Diagnostic[];
  /** The newest version was rejected. */
  readonly rejected: boolean;
}

interface Watched {
  readonly info: KindInfo;
  readonly path: string;
  readonly informer: { start(): Promise<void>; stop(): Promise<void>; on(verb: string, cb: (x: never) => void): void };
  /** Resolves after the first successful list. */
  readonly synced: Promise<void>;
  /** Calls `cb` after every successful list (first sync and relists). */
  readonly onListed: (cb: () => void) => void;
  /** Reports a failure and schedules the restart (set by #restarting). */
  fail?: (err: unknown) => void;
  /** Stopped for good (a Secret no longer referenced): its abort is not a failure to restart from. */
  stopped?: boolean;
}

/** A list function that reports its first success, for the "ready only after the first full sync" rule. */
function syncing<T>(list: () => Promise<T>): { list: () => Promise<T>; synced: Promise<void>; onListed: (cb: () => void) => void } {
  let done!: () => void;
  const synced = new Promise<void>((r) => (done = r));
  const listed: (() => void)[] = [];
  // ListWatch files the listed items into its cache (and calls add/update/delete) only after this
  // returns: report the sync a macrotask later, so the first compile never misses the last kind's items.
  return {
    synced, onListed: (cb) => void listed.push(cb),
    list: async () => { const out = await list(); for (const cb of listed) cb(); setImmediate(done); return out; },
  };
}

const MESH_KEY = 'mesh/istio-system/istio';

interface Client {
  readonly k8s: typeof import('@kubernetes/client-node');
  readonly kc: KubeConfig;
  readonly watch: import('@kubernetes/client-node').Watch;
}

export class KubeSource {
  #store: SnapshotStore;
  /** Incremental compile (issue 16): the same Resource object per unchanged API object, so only a change's dependants recompile. */
  #memo = new CompileMemo();
  #o: KubeSourceOptions;
  #objects = new Map<string, Entry>();
  #mesh: MeshConfig = {};
  #watched: Watched[] = [];
  #synced = false;
  #closed = false;
  #onClose!: () => void;
  #closing = new Promise<void>((r) => (this.#onClose = r));
  #rediscovery?: NodeJS.Timeout;
  #compileSoon = debounce(() => void this.#compile(), 100, 10_000, true);
  #client?: Client;
  #secrets: SecretCache;
  #events?: EventRecorder;

  constructor(store: SnapshotStore, o: KubeSourceOptions) {
    this.#store = store;
    this.#o = o;
    this.#secrets = new SecretCache((ns, name, on) => this.#watchSecret(ns, name, on), o.warn, o.info);
  }

  /** credentialName Secrets, read from the API server (only the ones the served config references). */
  get credentials(): CredentialFeed {
    return this.#secrets;
  }

  /**
   * First call: start every informer and wait for their first lists; then compile now, and (first
   * call) wait for the credentialName Secrets the config references, so the waypoint is not ready
   * before it can dial them.
   */
  async reload(): Promise<ReloadResult> {
    const first = !this.#synced;
    if (first) await this.#start();
    // Closed during the first sync (SIGTERM while starting): nothing was listed in full, so nothing is compiled.
    if (this.#closed) return { ok: false, diagnostics: [], changed: false };
    const r = this.#compile();
    if (first) await Promise.race([this.#secrets.synced(), this.#closing]);
    return r;
  }

  /** Informers watch from the start; nothing more to do. */
  async watch(): Promise<void> {}

  close(): void {
    this.#closed = true;
    this.#compileSoon.cancel();
    this.#onClose();
    clearInterval(this.#rediscovery);
    this.#secrets.close();
    this.#events?.close();
    for (const w of this.#watched) void w.informer.stop();
  }

  async #start(): Promise<void> {
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    try {
      if (this.#o.kubeconfig) kc.loadFromFile(this.#o.kubeconfig);
      else kc.loadFromDefault();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(`cannot read ${this.#o.kubeconfig ? `--kubeconfig ${this.#o.kubeconfig}` : 'the default kubeconfig'}: ${e.code ?? e.message}; pass a readable kubeconfig, or run in a pod with a service account`);
    }
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('no cluster in the kubeconfig; pass --kubeconfig or run in a pod');
    const raw = new k8s.Watch(kc);
    // ListWatch awaits watch() without a catch: credentials that fail to load (an exec plugin, a token
    // file) reject there: an unhandled rejection (an "internal error" line) and an informer that never
    // runs again. Report it as that watch's failure instead, so the restart with backoff handles it.
    // And stop() between the watch request and its answer finds nothing to abort: abort it here.
    const watch = {
      watch: async (...a: Parameters<typeof raw.watch>) => {
        const onEvent = a[2];
        a[2] = (phase, obj, watchObj) => onEvent(phase, trimOnReceipt(obj), watchObj);
        const c = await raw.watch(...a).catch((err: unknown) => {
          a[3](err);
          return new AbortController();
        });
        if (this.#closed) c.abort();
        return c;
      },
    } as unknown as typeof raw;
    this.#client = { k8s, kc, watch };
    if (this.#o.events !== false) this.#events = new EventRecorder((method, path, body) => request(kc, path, method, body), (m) => this.#o.warn(m));
    const kinds = [...REGISTRY.values()];
    const available = await Promise.all(kinds.map((info) => this.#discover(kc, info)));
    const every = this.#o.rediscoverMs ?? 60_000;
    const missing: KindInfo[] = [];
    for (const [i, info] of kinds.entries()) {
      const found = available[i];
      if (!found) {
        this.#o.warn(`${info.kind} (${info.group || 'core'}) is not served by the API server; treating it as empty, and looking for it again every ${every / 1000} s. Next: install its CRD`, { kind: info.kind });
        missing.push(info);
        continue;
      }
      this.#watched.push(this.#watch(k8s, kc, watch, info, found.version, found.plural));
    }
    if (this.#closed) return;
    // A CRD installed after start: watch its kind once the API server serves it (no restart needed).
    let busy = false;
    if (missing.length) this.#rediscovery = setInterval(() => {
      if (busy || this.#closed) return;
      busy = true;
      void (async () => {
        for (const info of [...missing]) {
          const found = await this.#discoverOnce(kc, info).catch(() => undefined);
          if (!found || this.#closed) continue;
          missing.splice(missing.indexOf(info), 1);
          this.#o.warn(`${info.kind} (${info.group || 'core'}) is now served by the API server (${found.version}); watching it`, { kind: info.kind });
          const w = this.#watch(k8s, kc, watch, info, found.version, found.plural);
          this.#watched.push(w);
          this.#run(w);
        }
        if (!missing.length) clearInterval(this.#rediscovery);
      })().finally(() => (busy = false));
    }, every).unref();
    this.#watched.push(this.#watchMesh());
    if (this.#o.pods) this.#watched.push(this.#watchPods(this.#o.pods));
    for (const w of this.#watched) this.#run(w);
    await Promise.race([Promise.all(this.#watched.map((w) => w.synced)), this.#closing]);
    this.#synced = !this.#closed;
  }

  /** Starts (or restarts) an informer; a failure it throws instead of reporting goes the same way as 'error'. */
  #run(w: Watched): void {
    if (this.#closed || w.stopped) return;
    w.informer.start().catch((err: unknown) => w.fail?.(err));
  }

  /** The newest version of the kind the API server serves (CRDs may lag ours), and its resource name. */
  async #discover(kc: KubeConfig, info: KindInfo): Promise<{ version: string; plural: string } | undefined> {
    for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
      try {
        return await this.#discoverOnce(kc, info);
      } catch (err) {
        if (this.#closed) return undefined;
        this.#o.warn(`API discovery for ${info.kind} failed (${errText(err)}); retrying in ${delay} ms. Next: check the API server address and this identity's RBAC`, { kind: info.kind });
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async #discoverOnce(kc: KubeConfig, info: KindInfo): Promise<{ version: string; plural: string } | undefined> {
    for (const v of info.versions) {
      const res = await request(kc, apiBase(info.group, v));
      const r = (res.body as { resources?: { kind: string; name: string }[] }).resources?.find((x) => x.kind === info.kind && !x.name.includes('/'));
      if (res.status === 200 && r) return { version: v, plural: r.name };
      if (res.status !== 200 && res.status !== 404) throw new Error(`GET ${apiBase(info.group, v)}: HTTP ${res.status}`);
    }
    return undefined;
  }

  #watch(k8s: typeof import('@kubernetes/client-node'), kc: KubeConfig, watch: import('@kubernetes/client-node').Watch, info: KindInfo, version: string, resource: string): Watched {
    const path = `${apiBase(info.group, version)}/${resource}`;
    const apiVersion = info.group ? `${info.group}/${version}` : version;
    const { list, synced, onListed } = syncing(async () => {
      const res = await request(kc, path);
      // ListWatch does not look at stop() once a list is under way: it would open a watch nobody stops.
      if (this.#closed) throw new Error('closed');
      if (res.status !== 200) throw Object.assign(new Error(`list ${path}: HTTP ${res.status}`), { statusCode: res.status });
      const body = res.body as import('@kubernetes/client-node').KubernetesListObject<KubernetesObject>;
      for (const o of body.items ?? []) trimOnReceipt(o);
      return body;
    });
    const informer = new k8s.ListWatch<KubernetesObject>(path, watch, list, false);
    const key = (o: KubernetesObject) => `${info.group}/${info.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    // The informer's cache needs only names and versions (relist diffs, deletes); once parsed, the
    // object it holds is cut down to them, so each object's spec lives once, in its Resource.
    const put = (o: KubernetesObject) => {
      this.#put(key(o), { ...o, apiVersion, kind: info.kind });
      skeleton(o);
    };
    informer.on('add', put);
    informer.on('update', put);
    informer.on('delete', (o: KubernetesObject) => this.#drop(key(o)));
    return this.#restarting({ info, path, informer: informer as unknown as Watched['informer'], synced, onListed });
  }

  #watchMesh(): Watched {
    const onMesh = (o: KubernetesObject & { data?: Record<string, string> }) => {
      try {
        this.#mesh = meshConfigOf({ kind: 'ConfigMap', data: o.data ?? {} }, 'ConfigMap istio-system/istio');
      } catch (e) {
        this.#o.warn(`${(e as Error).message}; keeping the previous mesh config`);
        return;
      }
      this.#changed();
    };
    const deleted = () => { this.#mesh = {}; this.#changed(); };
    return this.#watchNamed('/api/v1/namespaces/istio-system/configmaps', 'istio', MESH_KEY, { put: onMesh, del: deleted });
  }

  /**
   * Every live Pod (Succeeded/Failed ones may still show an IP that a new pod now holds), cut down to
   * what the IP index keeps as soon as it is indexed. Not part of the compiled config: no compile.
   */
  #watchPods(index: PodIndex): Watched {
    const { k8s, kc, watch } = this.#client!;
    const path = '/api/v1/pods';
    const selector = 'status.phase!=Succeeded,status.phase!=Failed';
    const { list, synced, onListed } = syncing(async () => {
      const res = await request(kc, `${path}?fieldSelector=${encodeURIComponent(selector)}`);
      if (this.#closed) throw new Error('closed');
      if (res.status !== 200) throw Object.assign(new Error(`list ${path}: HTTP ${res.status}`), { statusCode: res.status });
      return res.body as never;
    });
    const informer = new k8s.ListWatch<KubernetesObject>(path, watch, list, false, undefined, selector);
    const put = (o: KubernetesObject) => {
      index.put(o as PodObject);
      skeleton(o);
    };
    informer.on('add', put);
    informer.on('update', put);
    informer.on('delete', (o: KubernetesObject) => index.delete(o as PodObject));
    return this.#restarting({ info: { group: '', kind: 'Pod', versions: ['v1'], clusterScoped: false, validate: () => [] }, path: 'pods/', informer: informer as unknown as Watched['informer'], synced, onListed });
  }

  /** One Secret by name (list+watch with a field selector: RBAC may restrict it with resourceNames). */
  #watchSecret(ns: string, name: string, on: { put(d: SecretData): void }): { stop(): void; synced: Promise<void> } {
    if (this.#closed || !this.#client) return { stop: () => {}, synced: Promise.resolve() };
    let seen = false;
    const put = (o: KubernetesObject & { data?: Record<string, string> }) => {
      seen = true;
      on.put(Object.fromEntries(Object.entries(o.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])));
    };
    const w = this.#watchNamed(`/api/v1/namespaces/${ns}/secrets`, name, `secret/${ns}/${name}`, { put, del: () => on.put(null) });
    // A list with no such Secret calls no handler: report "does not exist" once listed.
    w.onListed(() => setImmediate(() => { if (!seen) on.put(null); }));
    this.#run(w);
    return {
      stop: () => {
        w.stopped = true;
        void w.informer.stop();
      },
      synced: Promise.race([w.synced, this.#closing]),
    };
  }

  /** list+watch of one object by name (`fieldSelector=metadata.name=<name>`); a missing namespace lists nothing. */
  #watchNamed<T extends KubernetesObject>(path: string, name: string, key: string, on: { put(o: T): void; del(): void }): Watched {
    const { k8s, kc, watch } = this.#client!;
    const { list, synced, onListed } = syncing(async () => {
      const res = await request(kc, `${path}?fieldSelector=metadata.name%3D${encodeURIComponent(name)}`);
      if (this.#closed) throw new Error('closed');
      if (res.status === 404) return { items: [], metadata: {} } as never;
      if (res.status !== 200) throw Object.assign(new Error(`list ${path}: HTTP ${res.status}`), { statusCode: res.status });
      for (const o of (res.body as { items?: KubernetesObject[] }).items ?? []) trimOnReceipt(o);
      return res.body as never;
    });
    const informer = new k8s.ListWatch<T>(path, watch, list, false, undefined, `metadata.name=${name}`);
    informer.on('add', on.put);
    informer.on('update', on.put);
    informer.on('delete', on.del);
    return this.#restarting({ info: { group: '', kind: key.startsWith('secret/') ? 'Secret' : 'ConfigMap', versions: ['v1'], clusterScoped: false, validate: () => [] }, path: key, informer: informer as unknown as Watched['informer'], synced, onListed });
  }

  /**
   * A failed list or watch stops a client-node informer; restart it with capped backoff. Its cache and
   * the served snapshot stay as they were meanwhile; the relist replaces the cache in one step.
   */
  #restarting(w: Watched): Watched {
    let delay = 500;
    // Every list that succeeds ends an outage: the next one starts again from the short delay.
    w.onListed(() => (delay = 500));
    const fail = (err: unknown) => {
      if (this.#closed || w.stopped) return;
      const serving = this.#synced ? 'still serving the last config' : 'the waypoint stays unready until every kind is listed';
      const next = (err as { statusCode?: number } | undefined)?.statusCode === 403
        ? forbiddenHint(w.path)
        : "check the API server and this identity's RBAC";
      this.#o.warn(`list/watch ${w.path} failed (${errText(err)}); relisting in ${delay} ms, ${serving}. Next: ${next}`, { kind: w.info.kind, status: (err as { statusCode?: number } | undefined)?.statusCode });
      setTimeout(() => this.#run(w), delay).unref();
      delay = Math.min(delay * 2, 10_000);
    };
    w.informer.on('error', fail);
    w.fail = fail;
    return w;
  }

  #put(key: string, obj: KubernetesObject): void {
    const rv = obj.metadata?.resourceVersion ?? '';
    if (this.#objects.get(key)?.rv === rv) return;
    const label = `${obj.kind} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata?.name}@${rv}`;
    // The informer's object itself (trimmed on receipt): the Resource shares its spec, no copy.
    const parsed = parseObject(obj, label);
    const r = parsed.resources[0];
    const v = r ? validateResource(r) : { diagnostics: [], known: false };
    // Validation was its only reader: the raw spec (the informer's copy) can go.
    if (r) RAW_SPEC.delete(r);
    const diagnostics = [...parsed.diagnostics, ...v.diagnostics];
    const previous = this.#objects.get(key);
    const ok = !!r && v.known && !hasErrors(diagnostics);
    const target = { apiVersion: obj.apiVersion ?? '', kind: obj.kind ?? '', namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? '', uid: obj.metadata?.uid, resourceVersion: rv };
    if (!ok) {
      const reasons = diagnostics.filter((d) => d.level === 'error').map((d) => d.message).join('; ') || 'not a kind or version Egressway reads';
      const kept = previous?.good ? 'its last good version stays in force' : 'it has no good version yet and is left out';
      this.#o.warn(`${label} rejected, ${kept}: ${reasons}`, { object: label });
      this.#events?.rejected(target, `${reasons} (${kept})`);
    } else if (previous?.rejected) this.#events?.accepted(target);
    this.#objects.set(key, { rv, good: ok ? r : previous?.good, diagnostics, rejected: !ok });
    this.#changed();
  }

  #drop(key: string): void {
    if (this.#objects.delete(key)) this.#changed();
  }

  #changed(): void {
    if (this.#synced && !this.#closed) this.#compileSoon.trigger();
  }

  #compile(): ReloadResult {
    const resources = [...this.#objects.values()].flatMap((e) => (e.good ? [e.good] : []));
    const options: CompileOptions = { outboundTrafficPolicy: 'REGISTRY_ONLY', numTrustedProxies: 0, ...definedOnly(meshCompileOptions(this.#mesh)), ...definedOnly(this.#o.compile) };
    const compiled = compile(resources, options, this.#memo);
    const diagnostics = [...[...this.#objects.values()].flatMap((e) => e.diagnostics), ...compiled.diagnostics];
    let result: ReloadResult;
    if (compiled.snapshot) {
      const changed = this.#store.offer(compiled.snapshot, diagnostics);
      this.#secrets.track(credentialRefs(this.#store.current()));
      result = { ok: true, diagnostics, version: compiled.snapshot.version, changed };
    } else {
      this.#store.reject(diagnostics);
      result = { ok: false, diagnostics, changed: false };
    }
    this.#o.onResult(result);
    return result;
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
