// gRPC client for istiod's certificate service (Istio's own ca.proto, vendored in ./proto):
// istio.v1.auth.IstioCertificateService/CreateCertificate over TLS to istiod:15012, verified
// against the mesh root (the istio-ca-root-cert ConfigMap), authenticated per call with
// `authorization: Bearer <projected token>` and `ClusterID` metadata, as pilot-agent's citadel
// client does (security/pkg/nodeagent/caclient/providers/citadel/client.go).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { checkIstioToken } from './token.ts';

const PROTO = fileURLToPath(new URL('./proto/ca.proto', import.meta.url));
const CALL_TIMEOUT_MS = 10_000;

export interface IstioCaClientOptions {
  /** host:port of istiod's secure gRPC port (15012). */
  readonly address: string;
  /** The name istiod's serving certificate must carry (pilot-agent's ISTIOD_SAN); default: the host of `address`. */
  readonly serverName?: string;
  /** PEM roots that istiod's serving certificate must chain to. */
  readonly rootPem: string;
  /** Where the root came from, for messages. */
  readonly rootFile: string;
  readonly tokenFile: string;
  readonly clusterId: string;
}

/** What went wrong, as a closed set (metrics label) and a one-line message naming the next step. */
export type CaErrorKind = 'token' | 'unreachable' | 'root_mismatch' | 'server_name' | 'unauthenticated' | 'rejected' | 'bad_response';

export class CaError extends Error {
  readonly kind: CaErrorKind;
  constructor(kind: CaErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

interface CertificateServiceClient extends grpc.Client {
  CreateCertificate(
    req: { csr: string; validityDuration: string; metadata: unknown },
    md: grpc.Metadata, opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: { certChain: string[] }) => void,
  ): grpc.ClientUnaryCall;
}
type ServiceCtor = new (address: string, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions) => CertificateServiceClient;

let serviceCtor: ServiceCtor | undefined;
function loadService(): ServiceCtor {
  if (!serviceCtor) {
    const def = protoLoader.loadSync(PROTO, { keepCase: false, longs: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { istio: { v1: { auth: { IstioCertificateService: ServiceCtor } } } };
    serviceCtor = pkg.istio.v1.auth.IstioCertificateService;
  }
  return serviceCtor;
}

export class IstioCaClient {
  readonly #o: IstioCaClientOptions;
  readonly #client: CertificateServiceClient;

  constructor(o: IstioCaClientOptions) {
    this.#o = o;
    const serverName = o.serverName ?? hostOf(o.address);
    const creds = grpc.credentials.createSsl(Buffer.from(o.rootPem));
    this.#client = new (loadService())(o.address, creds, {
      'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName,
      // Fail fast while istiod is down: the caller retries with its own backoff and says why.
      'grpc.initial_reconnect_backoff_ms': 1000, 'grpc.max_reconnect_backoff_ms': 10_000,
    });
  }

  /** Asks istiod to sign `csrPem`; resolves with the chain [leaf, intermediates…, root]. */
  async createCertificate(csrPem: string, validitySeconds: number): Promise<string[]> {
    const token = await this.#token();
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    md.set('ClusterID', this.#o.clusterId);
    const req = { csr: csrPem, validityDuration: String(validitySeconds), metadata: { fields: {} } };
    const res = await new Promise<{ certChain: string[] }>((resolve, reject) => {
      this.#client.CreateCertificate(req, md, { deadline: Date.now() + CALL_TIMEOUT_MS }, (err, r) => (err ? reject(this.#classify(err)) : resolve(r!)));
    });
    // citadel client: "invalid empty CertChain" unless there is a leaf and a root.
    if (!res.certChain || res.certChain.length < 2) {
      throw new CaError('bad_response', `istiod at ${this.#o.address} answered with ${res.certChain?.length ?? 0} certificate(s), not a chain ending in its root; check istiod's CA logs (kubectl -n istio-system logs deploy/istiod | grep -i csr)`);
    }
    return res.certChain;
  }

  close(): void {
    this.#client.close();
  }

  async #token(): Promise<string> {
    let text;
    try {
      // Read per call: the kubelet rewrites projected tokens before they expire.
      text = await readFile(this.#o.tokenFile, 'utf8');
    } catch (err) {
      throw new CaError('token', `cannot read the istio-ca token ${this.#o.tokenFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); mount a projected service-account token with audience istio-ca there, or pass --ca-token-file`);
    }
    const bad = checkIstioToken(text, this.#o.tokenFile);
    if (bad) throw new CaError('token', bad);
    return text.trim();
  }

  #classify(err: grpc.ServiceError): CaError {
    const a = this.#o.address;
    const d = err.details ?? err.message;
    if (err.code === grpc.status.UNAUTHENTICATED) {
      return new CaError('unauthenticated', `istiod at ${a} refused the token in ${this.#o.tokenFile} (${d}): the service account must exist, the token must be for audience istio-ca, and --cluster-id (${this.#o.clusterId}) must be istiod's cluster ID (Kubernetes unless istiod runs with --clusterID)`);
    }
    if (/altnames|Hostname\/IP does not match/i.test(d)) {
      return new CaError('server_name', `istiod's certificate at ${a} is not for the name ${this.#o.serverName ?? hostOf(a)} (${tail(d)}); set --ca-server-name to a name it carries (istiod.istio-system.svc)`);
    }
    if (/certificate|self[- ]signed|unable to verify|issuer/i.test(d)) {
      return new CaError('root_mismatch', `istiod's certificate at ${a} does not chain to the root in ${this.#o.rootFile} (${tail(d)}); use root-cert.pem from the istio-ca-root-cert ConfigMap of this mesh (kubectl get cm istio-ca-root-cert -o jsonpath='{.data.root-cert\\.pem}')`);
    }
    if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) {
      return new CaError('unreachable', `istiod at ${a} is unreachable (${tail(d)}); check --ca-address and that istiod runs (kubectl -n istio-system get pods -l app=istiod)`);
    }
    return new CaError('rejected', `istiod at ${a} did not sign the certificate request (${grpc.status[err.code] ?? err.code}: ${d}); check istiod's CA logs (kubectl -n istio-system logs deploy/istiod)`);
  }
}

function hostOf(address: string): string {
  const m = /^\[([^\]]+)\]:\d+$/.exec(address) ?? /^([^:]+):\d+$/.exec(address);
  return m ? m[1]! : address;
}

/** The useful end of grpc-js's "No connection established. Last error: …" text. */
function tail(details: string): string {
  const i = details.lastIndexOf('Last error: ');
  const last = i >= 0 ? details.slice(i + 'Last error: '.length) : details;
  // Node's hint about --use-system-ca is wrong here: the mesh root is never a system CA.
  return last.replace(/^Error( \[[A-Z_]+\])?: /, '').replace(/\.? ?Resolution note:.*$/s, '').replace(/; if the root CA is installed locally.*$/s, '').slice(0, 200);
}
