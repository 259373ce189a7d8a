// One list+watch cache per resource the controller reads: client-node's ListWatch, restarted with
// capped backoff when a list or watch fails (client-node stops an informer on error), as the
// Kubernetes config source does. `synced` resolves after the first successful list; every add,
// update or delete calls `onChange`, which schedules one debounced reconcile.
import type { KubernetesObject, KubernetesListObject, Watch } from '@kubernetes/client-node';
import { apiError, type KubeApi } from './kube-api.ts';

export interface Cache<T extends KubernetesObject = KubernetesObject> {
  list(): readonly T[];
  get(name: string, namespace?: string): T | undefined;
  readonly synced: Promise<void>;
  stop(): void;
}

export interface InformerOptions {
  readonly labelSelector?: string;
  readonly onChange: (obj: KubernetesObject, verb: 'add' | 'update' | 'delete') => void;
  readonly warn: (message: string) => void;
}

export async function startInformer<T extends KubernetesObject>(api: KubeApi, path: string, o: InformerOptions): Promise<Cache<T>> {
  const k8s = await import('@kubernetes/client-node');
  let stopped = false;
  const raw = new k8s.Watch(api.kc);
  // ListWatch awaits watch() without a catch, and a stop() between the request and its answer finds
  // nothing to abort: report the first as the watch's failure, abort the second here.
  const watch = {
    watch: async (...a: Parameters<Watch['watch']>) => {
      const c = await raw.watch(...a).catch((err: unknown) => {
        a[3](err);
        return new AbortController();
      });
      if (stopped) c.abort();
      return c;
    },
  } as unknown as Watch;
  let done!: () => void;
  const synced = new Promise<void>((r) => (done = r));
  let delay = 500;
  const query = o.labelSelector ? `?labelSelector=${encodeURIComponent(o.labelSelector)}` : '';
  const list = async (): Promise<KubernetesListObject<T>> => {
    const res = await api.get(`${path}${query}`);
    if (stopped) throw new Error('stopped');
    if (res.status !== 200 && res.status !== 404) throw Object.assign(new Error(`list ${path}: ${apiError(res)}`), { statusCode: res.status });
    delay = 500;
    // ListWatch files the items after this returns: report the sync a macrotask later.
    setImmediate(done);
    // A CRD that is not installed (Istio's, without Istio) lists as empty and counts as synced; its
    // watch fails, and the restart lists it again with backoff until the CRD appears.
    if (res.status === 404) return { apiVersion: 'v1', kind: 'List', items: [], metadata: {} } as never;
    return res.body as unknown as KubernetesListObject<T>;
  };
  const informer = new k8s.ListWatch<T>(path, watch, list, false, o.labelSelector);
  for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, (obj: T) => o.onChange(obj, verb));
  const restart = (err: unknown) => {
    if (stopped) return;
    const status = (err as { statusCode?: number } | undefined)?.statusCode;
    const next = status === 403 ? `grant this identity list and watch on ${path}` : "check the API server and this identity's RBAC";
    o.warn(`list/watch ${path} failed (${(err as Error | undefined)?.message ?? String(err)}); retrying in ${delay} ms. Next: ${next}`);
    setTimeout(() => void informer.start().catch(restart), delay).unref();
    delay = Math.min(delay * 2, 30_000);
  };
  informer.on('error', restart);
  void informer.start().catch(restart);
  return {
    list: () => informer.list(),
    get: (name, namespace) => informer.get(name, namespace),
    synced,
    stop: () => {
      stopped = true;
      void informer.stop();
    },
  };
}
