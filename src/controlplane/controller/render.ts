// What one Gateway of our class becomes: ServiceAccount, Deployment, Service and
// PodDisruptionBudget, all named after the Gateway (as istiod names a waypoint's: the service
// account is the Gateway's name, so the waypoint identity is spiffe://<td>/ns/<ns>/sa/<name>),
// labelled and owned the way istiod's waypoint template does (manifests/charts/istio-control/
// istio-discovery/files/waypoint.yaml). PURE: server-side apply bodies, nothing else.
import type { Settings } from './params.ts';

export interface GatewayInput {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly className: string;
  readonly listeners: readonly { readonly name: string; readonly port: number; readonly protocol: string }[];
  readonly infrastructure?: { readonly labels?: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> };
}

export interface Rendered {
  /** Collection path for the apply (the object's own path is `${path}/${name}`). */
  readonly path: string;
  readonly body: Record<string, unknown>;
}

export const GATEWAY_NAME = 'gateway.networking.k8s.io/gateway-name';
export const GATEWAY_CLASS_NAME = 'gateway.networking.k8s.io/gateway-class-name';
// istiod and ztunnel recognise a waypoint's own pods and Service by this value ("waypoints never
// get waypoints", pilot/pkg/serviceregistry/kube/controller/ambient/waypoints.go): without it a
// namespace labelled istio.io/use-waypoint would send the waypoint's own Service through itself.
export const MANAGED = 'gateway.istio.io/managed';
export const MANAGED_VALUE = 'istio.io-mesh-controller';
export const PORTS = { hbone: 15008, proxy: 15001, stats: 15020, status: 15021 } as const;
// Kubernetes port names: IANA service names (at most 15 characters, a letter among them).
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

/** ClusterRoles bound to each waypoint's ServiceAccount (the chart passes their names). */
export interface WaypointRoles {
  /** Bound with a ClusterRoleBinding: what a waypoint lists and watches cluster-wide. */
  readonly cluster?: string;
  /** Bound with a RoleBinding in the Gateway's namespace: credentialName Secrets. */
  readonly secrets?: string;
}

export const GATEWAY_NAMESPACE = 'egressway.io/gateway-namespace';

export function renderGateway(g: GatewayInput, s: Settings, controllerName: string, roles: WaypointRoles = {}): Rendered[] {
  const meta = (extra: Record<string, string> = {}) => ({
    name: g.name, namespace: g.namespace,
    labels: { ...(g.infrastructure?.labels ?? {}), [GATEWAY_NAME]: g.name, [GATEWAY_CLASS_NAME]: g.className, ...extra },
    ...(g.infrastructure?.annotations ? { annotations: { ...g.infrastructure.annotations } } : {}),
    ownerReferences: [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: g.name, uid: g.uid, controller: true }],
  });
  const ns = `/namespaces/${g.namespace}`;
  return [
    { path: `/api/v1${ns}/serviceaccounts`, body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta() } },
    { path: `/apis/apps/v1${ns}/deployments`, body: deployment(g, s, meta({ [MANAGED]: MANAGED_VALUE }), controllerName) },
    { path: `/api/v1${ns}/services`, body: service(g, s, meta({ [MANAGED]: MANAGED_VALUE })) },
    { path: `/apis/policy/v1${ns}/poddisruptionbudgets`, body: pdb(g, s, meta()) },
    ...bindings(g, roles, meta()),
  ];
}

/** The name of a waypoint's ClusterRoleBinding (cluster-wide, so it carries the namespace). */
export function clusterBindingName(namespace: string, name: string): string {
  return `egressway-waypoint-${namespace}-${name}`;
}

function bindings(g: GatewayInput, roles: WaypointRoles, metadata: { labels: Record<string, string> }): Rendered[] {
  const subjects = [{ kind: 'ServiceAccount', name: g.name, namespace: g.namespace }];
  const roleRef = (name: string) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name });
  const out: Rendered[] = [];
  // A cluster-scoped object cannot be owned by a namespaced Gateway: no ownerReferences; the
  // controller deletes it when its Gateway is gone (found by these labels).
  if (roles.cluster) {
    out.push({
      path: '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings',
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding',
        metadata: { name: clusterBindingName(g.namespace, g.name), labels: { ...metadata.labels, [GATEWAY_NAMESPACE]: g.namespace } },
        roleRef: roleRef(roles.cluster), subjects,
      },
    });
  }
  if (roles.secrets) {
    out.push({
      path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${g.namespace}/rolebindings`,
      body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { ...metadata, name: `${g.name}-egressway-secrets` }, roleRef: roleRef(roles.secrets), subjects },
    });
  }
  return out;
}

function hboneListeners(g: GatewayInput): GatewayInput['listeners'] {
  const seen = new Set<number>();
  return g.listeners.filter((l) => l.protocol === 'HBONE' && !seen.has(l.port) && seen.add(l.port));
}

function deployment(g: GatewayInput, s: Settings, metadata: object, controllerName: string): Record<string, unknown> {
  const args = ['run', '--kubernetes', '--waypoint', `${g.namespace}/${g.name}`, '--listen-address', '0.0.0.0',
    ...(s.proxyProtocolPort !== undefined ? ['--proxy-protocol-port', String(s.proxyProtocolPort)] : []), ...s.args];
  const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
  const ports = [
    ...hboneListeners(g).map((l) => ({ name: l.port === PORTS.hbone ? 'hbone' : `hbone-${l.port}`, containerPort: l.port, protocol: 'TCP' })),
    { name: 'proxy', containerPort: PORTS.proxy, protocol: 'TCP' },
    { name: 'metrics', containerPort: PORTS.stats, protocol: 'TCP' },
    { name: 'status-port', containerPort: PORTS.status, protocol: 'TCP' },
    ...(s.proxyProtocolPort !== undefined ? [{ name: 'proxy-protocol', containerPort: s.proxyProtocolPort, protocol: 'TCP' }] : []),
  ];
  const probe = (periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path: '/healthz/ready', port: PORTS.status, scheme: 'HTTP' }, periodSeconds, failureThreshold, timeoutSeconds: 1, successThreshold: 1,
  });
  const podLabels = {
    'sidecar.istio.io/inject': 'false', 'istio.io/dataplane-mode': 'none',
    'service.istio.io/canonical-name': g.name, 'service.istio.io/canonical-revision': 'latest',
    ...(g.infrastructure?.labels ?? {}), [GATEWAY_NAME]: g.name, [GATEWAY_CLASS_NAME]: g.className, [MANAGED]: MANAGED_VALUE,
  };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata,
    spec: {
      ...(s.replicas !== undefined ? { replicas: s.replicas } : {}),
      selector: { matchLabels: { [GATEWAY_NAME]: g.name } },
      template: {
        metadata: {
          labels: podLabels,
          annotations: { 'prometheus.io/path': '/stats/prometheus', 'prometheus.io/port': String(PORTS.stats), 'prometheus.io/scrape': 'true', 'egressway.io/controller': controllerName },
        },
        spec: {
          serviceAccountName: g.name,
          securityContext: { runAsNonRoot: true, runAsUser: 1337, runAsGroup: 1337, fsGroup: 1337, seccompProfile: { type: 'RuntimeDefault' } },
          ...(s.nodeSelector ? { nodeSelector: s.nodeSelector } : {}),
          ...(s.tolerations ? { tolerations: s.tolerations } : {}),
          containers: [{
            name: 'egressway', image: s.image, args, ports,
            env: [
              { name: 'POD_NAME', ...field('metadata.name') }, { name: 'POD_NAMESPACE', ...field('metadata.namespace') },
              { name: 'SERVICE_ACCOUNT', ...field('spec.serviceAccountName') }, { name: 'NODE_NAME', ...field('spec.nodeName') },
              { name: 'INSTANCE_IP', ...field('status.podIP') },
            ],
            startupProbe: probe(1, 30), readinessProbe: probe(5, 3),
            ...(s.resources ? { resources: s.resources } : {}),
            securityContext: {
              privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] },
            },
            volumeMounts: [
              { name: 'istio-token', mountPath: '/var/run/secrets/tokens', readOnly: true },
              { name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio', readOnly: true },
              { name: 'tmp', mountPath: '/tmp' },
            ],
          }],
          volumes: [
            { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] } },
            { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert', optional: true } },
            { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
          ],
        },
      },
    },
  };
}

function service(g: GatewayInput, s: Settings, metadata: object): Record<string, unknown> {
  // istiod's waypoint Service: status-port (tcp) first, then each listener port named after the
  // listener with appProtocol = its protocol lower-cased (hbone); ours adds the proxy and stats ports.
  const ports: Record<string, unknown>[] = [{ name: 'status-port', port: PORTS.status, protocol: 'TCP', appProtocol: 'tcp' }];
  hboneListeners(g).forEach((l, i) => {
    ports.push({ name: PORT_NAME.test(l.name) && l.name !== 'status-port' ? l.name : `hbone-${i}`, port: l.port, protocol: 'TCP', appProtocol: 'hbone' });
  });
  const taken = new Set(ports.map((p) => p.port));
  const extra = [['proxy', PORTS.proxy, 'http'], ['metrics', PORTS.stats, 'http'], ...(s.proxyProtocolPort !== undefined ? [['proxy-protocol', s.proxyProtocolPort, 'tcp']] : [])] as const;
  for (const [name, port, appProtocol] of extra) if (!taken.has(port)) ports.push({ name, port, protocol: 'TCP', appProtocol });
  return {
    apiVersion: 'v1', kind: 'Service', metadata,
    spec: { type: 'ClusterIP', ipFamilyPolicy: 'PreferDualStack', selector: { [GATEWAY_NAME]: g.name }, ports },
  };
}

function pdb(g: GatewayInput, s: Settings, metadata: object): Record<string, unknown> {
  // One replica, or a count an autoscaler owns: allow one eviction at a time (a drain must not
  // hang on a single pod); two or more set by the parameters: keep one up.
  const budget = (s.replicas ?? 1) > 1 ? { minAvailable: 1 } : { maxUnavailable: 1 };
  return { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata, spec: { selector: { matchLabels: { [GATEWAY_NAME]: g.name } }, ...budget } };
}
