// The small HTTP side of the Kubernetes source: one request with the kubeconfig's credentials (client-node's
// generated APIs are heavy to load per kind), what is trimmed from objects as they arrive, and the RBAC hints
// for a forbidden list or watch.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Fields no Egressway code reads, dropped as each object arrives (list or watch event), before any
 * cache holds it: managedFields, and kubectl's last-applied annotation (a second copy of the object).
 */
export function trimOnReceipt<T>(obj: T): T {
  const m = (obj as KubernetesObject | undefined)?.metadata;
  if (!m) return obj;
  delete m.managedFields;
  if (m.annotations && LAST_APPLIED in m.annotations) {
    delete m.annotations[LAST_APPLIED];
    if (!Object.keys(m.annotations).length) delete m.annotations;
  }
  return obj;
}

/** What ListWatch's cache reads of an object it holds: namespace, name, resourceVersion. */
export function skeleton(o: KubernetesObject): void {
  const { name, namespace, resourceVersion } = o.metadata ?? {};
  for (const k of Object.keys(o)) delete (o as Record<string, unknown>)[k];
  o.metadata = { name, namespace, resourceVersion };
}

export function forbiddenHint(path: string): string {
  if (path.startsWith('mesh/')) return "this identity may not list or watch configmaps in istio-system: grant it get, list and watch there (a Role bound to the waypoint's ServiceAccount)";
  if (path === 'pods/') return "this identity may not list or watch pods (--identify-pods-by-ip): grant it list and watch on pods cluster-wide (a ClusterRole), or drop the flag";
  if (path.startsWith('secret/')) {
    const [, ns, name] = path.split('/');
    return `this identity may not list or watch Secret ${ns}/${name} (credentialName): grant it get, list and watch on secrets in ${ns} (a Role; resourceNames may name just the credential Secrets)`;
  }
  return `this identity may not list or watch ${path}: grant it get, list and watch there (a ClusterRole bound to the waypoint's ServiceAccount)`;
}

export function apiBase(group: string, version: string): string {
  return group ? `/apis/${group}/${version}` : `/api/${version}`;
}

export function errText(err: unknown): string {
  if (err && typeof err === 'object' && 'message' in err) return String((err as Error).message);
  return String(err);
}

/** One GET with the kubeconfig's credentials (client-node's generated APIs are heavy to load per kind). */
export async function request(kc: KubeConfig, path: string, method: 'GET' | 'POST' | 'PATCH' = 'GET', body?: unknown): Promise<{ status: number; body: unknown }> {
  const cluster = kc.getCurrentCluster()!;
  const opts: import('node:https').RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const url = new URL(path, cluster.server);
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const type = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    const headers = { ...(opts.headers ?? {}), accept: 'application/json', ...(payload ? { 'content-type': type } : {}) };
    const req = https.request(url, { ...opts, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : {} });
        } catch (e) {
          reject(new Error(`${method} ${path}: not JSON (${(e as Error).message})`));
        }
      });
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}
