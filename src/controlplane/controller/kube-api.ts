// The few API calls the controller makes, over node:https with the kubeconfig's credentials
// (client-node's generated clients are heavy to load and hide the status code we branch on).
// Every call resolves with {status, body}; only a transport failure rejects.
import type { KubeConfig } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { request as httpsRequest, type RequestOptions } from 'node:https';

export const FIELD_MANAGER = 'egressway-controller';

export interface ApiResult {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** A Kubernetes error body's message, else the status code. */
export function apiError(r: ApiResult): string {
  const m = (r.body as { message?: string }).message;
  return m ? `HTTP ${r.status}: ${m}` : `HTTP ${r.status}`;
}

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** --kubeconfig wins; else the in-cluster service account; else $KUBECONFIG / ~/.kube/config. */
export async function loadKubeConfig(file: string | undefined): Promise<KubeConfig> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  try {
    if (file) kc.loadFromFile(file);
    else if (process.env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN)) kc.loadFromCluster();
    else kc.loadFromDefault();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot read ${file ? `--kubeconfig ${file}` : 'the default kubeconfig'}: ${e.code ?? e.message}; pass a readable kubeconfig, or run in a pod with a service account`);
  }
  if (!kc.getCurrentCluster()) throw new Error('no cluster in the kubeconfig; pass --kubeconfig or run in a pod');
  return kc;
}

export class KubeApi {
  readonly kc: KubeConfig;
  readonly timeoutMs: number;

  constructor(kc: KubeConfig, timeoutMs = 10_000) {
    this.kc = kc;
    this.timeoutMs = timeoutMs;
  }

  get(path: string): Promise<ApiResult> {
    return this.call('GET', path);
  }

  /** Server-side apply with our field manager; `force` takes over fields another manager set. */
  apply(path: string, obj: unknown, force = true): Promise<ApiResult> {
    const q = `fieldManager=${FIELD_MANAGER}${force ? '&force=true' : ''}`;
    return this.call('PATCH', `${path}${path.includes('?') ? '&' : '?'}${q}`, obj, 'application/apply-patch+yaml');
  }

  async call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<ApiResult> {
    const cluster = this.kc.getCurrentCluster()!;
    const opts: RequestOptions = {};
    await this.kc.applyToHTTPSOptions(opts);
    const url = new URL(path, cluster.server);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { ...(opts.headers as Record<string, string>), accept: 'application/json' };
    if (payload !== undefined) Object.assign(headers, { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) });
    return new Promise((resolve, reject) => {
      const req = httpsRequest(url, { ...opts, method, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let parsed: Record<string, unknown> = {};
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            parsed = { message: text.slice(0, 200) };
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}
