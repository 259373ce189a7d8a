// The Helm chart (deploy/helm/egressway) with the real helm: `helm lint` is clean, `helm template`
// renders what the values say, and against a real kube-apiserver (RBAC on) it installs, the controller's
// and the waypoint's ServiceAccounts may do exactly what they need (kubectl auth can-i, then real
// requests with their tokens: the controller binds a waypoint, a waypoint process lists and watches
// every kind and becomes ready), and `helm uninstall` removes it.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CHART, helm, helmMissing, pick, renderChart, type K8sObject } from '../helpers/helm.ts';
import { installCrds, kubePeersMissing, PEERS_DIR, startKube, type KubeControlPlane } from '../helpers/kube.ts';
import { REPO_ROOT, startWaypoint, type Waypoint } from '../helpers/waypoint.ts';
import { LogCollector } from '../helpers/log-lines.ts';
import { WAYPOINT_YAML } from '../helpers/inprocess.ts';

const skip = helmMissing();
if (skip) console.log(`# helm: ${skip}`);
const skipKube = skip ?? kubePeersMissing();
if (!skip && skipKube) console.log(`# helm install: ${skipKube}`);

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
const rules = (o: K8sObject) => o.rules as Rule[];
const container = (d: K8sObject) => (d.spec as { template: { spec: { containers: Record<string, any>[] } } }).template.spec.containers[0]!;
const data = (objects: K8sObject[]) => pick(objects, 'ConfigMap', 'egressway-gatewayclass').data as Record<string, string>;

describe('helm chart: lint and template', { skip }, () => {
  test('helm lint --strict is clean', async () => {
    const r = await helm(['lint', '--strict', CHART]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /\[(WARNING|ERROR)\]/);
  });

  test('default values: GatewayClass, controller Deployment, waypoint defaults', async () => {
    const o = await renderChart();
    const gc = pick(o, 'GatewayClass', 'egressway');
    assert.deepEqual(gc.spec, {
      controllerName: 'egressway.io/gateway-controller', description: 'Egressway ambient egress waypoints',
      parametersRef: { group: '', kind: 'ConfigMap', name: 'egressway-gatewayclass', namespace: 'egressway-system' },
    });
    assert.equal(gc.metadata.annotations, undefined, 'no sandwich annotation by default');
    const d = pick(o, 'Deployment', 'egressway-controller');
    assert.equal((d.spec as { replicas: number }).replicas, 2);
    const c = container(d);
    assert.equal(c.image, 'ghcr.io/egressway/egressway:0.1.0');
    assert.deepEqual(c.args, ['controller', '--controller-name=egressway.io/gateway-controller', '--image=ghcr.io/egressway/egressway:0.1.0',
      '--lease-namespace=egressway-system', '--lease-name=egressway-controller', '--lease-duration=15s', '--metrics-port=15014',
      '--istiod=auto', '--istio-namespace=istio-system', '--log-level=info']);
    const env = Object.fromEntries(c.env.map((e: { name: string; value?: string; valueFrom?: unknown }) => [e.name, e.value ?? e.valueFrom]));
    assert.deepEqual(env, {
      POD_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } }, POD_NAME: { fieldRef: { fieldPath: 'metadata.name' } },
      EGRESSWAY_WAYPOINT_CLUSTER_ROLE: 'egressway-waypoint', EGRESSWAY_WAYPOINT_SECRETS_CLUSTER_ROLE: 'egressway-waypoint-secrets',
    });
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/healthz/ready', port: 'http-metrics' });
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz/ready', port: 'http-metrics' });
    assert.deepEqual(c.ports, [{ name: 'http-metrics', containerPort: 15014, protocol: 'TCP' }]);
    assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
    assert.deepEqual(c.resources, { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } });
    assert.deepEqual(c.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
    const pod = (d.spec as { template: { spec: Record<string, any> } }).template.spec;
    assert.equal(pod.serviceAccountName, 'egressway-controller');
    assert.equal(pod.securityContext.runAsUser, 65532);
    const pdb = pick(o, 'PodDisruptionBudget', 'egressway-controller').spec as { minAvailable: number; selector: unknown };
    assert.equal(pdb.minAvailable, 1);
    assert.deepEqual(pdb.selector, (d.spec as { selector: unknown }).selector, 'the PDB selects the controller pods');
    assert.deepEqual(rules(pick(o, 'Role', 'egressway-controller-leader')), [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['egressway-controller'], verbs: ['get', 'list', 'watch', 'update', 'patch'] },
    ]);
    // Exactly the keys `egressway controller` reads (it refuses a class whose ConfigMap has others).
    assert.deepEqual(data(o), {
      replicas: '2', image: 'ghcr.io/egressway/egressway:0.1.0',
      resources: 'limits:\n  memory: 1Gi\nrequests:\n  cpu: 100m\n  memory: 256Mi\n', args: '[]\n',
    });
    assert.ok(!rules(pick(o, 'ClusterRole', 'egressway-waypoint')).some((r) => r.resources.includes('pods')), 'no pods access without pod-IP identity');
    pick(o, 'ClusterRole', 'egressway-waypoint-secrets');
  });

  test('non-default values render what they say', async () => {
    const o = await renderChart({
      'gatewayClass.name': 'egress-proxy', 'gatewayClass.controllerName': 'example.com/egress',
      'gatewayClass.sandwich.enabled': 'true', 'gatewayClass.sandwich.port': '15099',
      'image.repository': 'registry.test/egressway', 'image.tag': '9.9.9', 'controller.replicas': '3',
      'controller.resources.limits.memory': '1Gi', 'controller.lease.name': 'lead', 'controller.extraArgs[0]': '--verbose',
      'waypoint.podIdentity.enabled': 'true', 'waypoint.podIdentity.mode': 'namespaces', 'waypoint.readSecrets': 'false', 'waypoint.replicas': '4',
      'waypoint.nodeSelector.pool': 'egress',
      'waypoint.extraArgs[0]': '--outbound-traffic-policy', 'waypoint.extraArgs[1]': 'ALLOW_ANY',
      'waypoint.istioCAAddress': 'istiod.istio-system.svc:15012', 'waypoint.image': 'registry.test/waypoint:1',
    }, 'edge');
    const gc = pick(o, 'GatewayClass', 'egress-proxy');
    assert.equal((gc.spec as { controllerName: string }).controllerName, 'example.com/egress');
    assert.deepEqual(gc.metadata.annotations, { 'ambient.istio.io/waypoint-inbound-binding': 'PROXY/15099' });
    const d = pick(o, 'Deployment', 'egressway-controller');
    assert.equal((d.spec as { replicas: number }).replicas, 3);
    const c = container(d);
    assert.equal(c.image, 'registry.test/egressway:9.9.9');
    for (const a of ['--controller-name=example.com/egress', '--image=registry.test/waypoint:1', '--lease-namespace=edge', '--lease-name=lead', '--verbose']) assert.ok(c.args.includes(a), a);
    assert.equal(c.resources.limits.memory, '1Gi');
    assert.equal(c.env.find((e: { name: string }) => e.name === 'EGRESSWAY_WAYPOINT_SECRETS_CLUSTER_ROLE').value, '');
    const p = data(o);
    assert.equal(p.replicas, '4');
    assert.equal(p.image, 'registry.test/waypoint:1');
    assert.equal(p.args, '- --outbound-traffic-policy\n- ALLOW_ANY\n- --ca-address\n- istiod.istio-system.svc:15012\n- --identify-pods-by-ip=namespaces\n');
    assert.equal(p.nodeSelector, 'pool: egress\n');
    assert.ok(rules(pick(o, 'ClusterRole', 'egressway-waypoint')).some((r) => r.resources.includes('pods') && r.verbs.join() === 'list,watch'));
    assert.ok(!o.some((x) => x.metadata.name === 'egressway-waypoint-secrets'), 'no Secrets role when readSecrets is false');
    const bind = rules(pick(o, 'ClusterRole', 'egressway-controller')).find((r) => r.verbs.includes('bind'))!;
    assert.deepEqual(bind.resourceNames, ['egressway-waypoint'], 'the controller may bind only the roles that exist');
    assert.equal(pick(o, 'Role', 'egressway-controller-leader').metadata.namespace, 'edge');
  });

  test('waypoint.replicas=null: the class parameters carry no replicas, so an HPA owns the count', async () => {
    const p = data(await renderChart({ 'waypoint.replicas': 'null' }));
    assert.ok(!('replicas' in p), JSON.stringify(p));
    assert.equal(data(await renderChart({})).replicas, '2', 'the default is two');
  });

  test('one controller replica: no PodDisruptionBudget (it would block every drain); rbac.create=false: no RBAC objects', async () => {
    assert.ok(!(await renderChart({ 'controller.replicas': '1' })).some((x) => x.kind === 'PodDisruptionBudget'));
    const o = await renderChart({ 'rbac.create': 'false' });
    assert.deepEqual(o.filter((x) => /Role/.test(x.kind)), []);
  });

  test('another release name renames every cluster-scoped object, and the bind rule follows', async () => {
    const r = await helm(['template', 'edge', CHART, '--namespace', 'e', '--set', 'gatewayClass.create=false']);
    assert.equal(r.code, 0, r.stderr);
    const o = (await import('../helpers/helm.ts')).parseManifests(r.stdout);
    const names = o.filter((x) => x.kind.startsWith('Cluster')).map((x) => x.metadata.name).sort();
    assert.deepEqual(names, ['edge-egressway-controller', 'edge-egressway-controller', 'edge-egressway-waypoint', 'edge-egressway-waypoint-secrets']);
    const bind = rules(pick(o, 'ClusterRole', 'edge-egressway-controller')).find((x) => x.verbs.includes('bind'))!;
    assert.deepEqual(bind.resourceNames, ['edge-egressway-waypoint', 'edge-egressway-waypoint-secrets']);
    assert.ok(!o.some((x) => x.kind === 'GatewayClass'));
  });
});

describe('helm install against a real API server, RBAC enforced', { skip: skipKube, timeout: 300_000 }, () => {
  let kube: KubeControlPlane;
  const NS = 'egressway-system';
  const CONTROLLER = `system:serviceaccount:${NS}:egressway-controller`;
  const WAYPOINT = 'system:serviceaccount:istio-egress:egress';
  let controllerConfig: string;

  /**
   * `kubectl auth can-i` as `user`: true for yes, false for no; anything else fails the test.
   * `resource` is `plural[.group][/name][:subresource]`.
   */
  const canI = (user: string, verb: string, resource: string, namespace?: string) => new Promise<boolean>((resolve, reject) => {
    const [res, sub] = resource.split(':');
    const args = ['--kubeconfig', kube.kubeconfig, 'auth', 'can-i', verb, res!, ...(sub ? [`--subresource=${sub}`] : []), `--as=${user}`, ...(namespace ? ['-n', namespace] : ['--all-namespaces'])];
    execFile(join(PEERS_DIR, 'bin', 'kubectl'), args, (err, stdout, stderr) => {
      if (!err && stdout.trim() === 'yes') resolve(true);
      else if (err?.code === 1 && stdout.trim() === 'no') resolve(false);
      else reject(new Error(`kubectl ${args.join(' ')}: ${stdout}${stderr}`));
    });
  });
  const expectCan = async (user: string, table: readonly (readonly [boolean, string, string, string?])[]) => {
    const got = await Promise.all(table.map(([, verb, res, ns]) => canI(user, verb, res, ns)));
    const wrong = table.filter((row, i) => row[0] !== got[i]).map(([want, verb, res, ns]) => `${want ? 'should' : 'must not'}: ${verb} ${res}${ns ? ` -n ${ns}` : ''}`);
    assert.deepEqual(wrong, [], `${user}`);
  };
  const as = (kubeconfig: string, args: readonly string[], input?: string) => kube.kubectl(['--kubeconfig', kubeconfig, ...args], input);

  before(async () => {
    kube = await startKube();
    await installCrds(kube);
    const r = await helm(['install', 'egressway', CHART, '--namespace', NS, '--create-namespace', '--kubeconfig', kube.kubeconfig]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /kubectl get gatewayclass egressway/, 'NOTES.txt is printed');
    await kube.kubectl(['create', 'namespace', 'istio-egress']);
    await kube.kubectl(['create', 'namespace', 'other']);
    controllerConfig = await kube.kubeconfigFor(NS, 'egressway-controller');
  });
  after(async () => kube?.close());

  test('the chart objects are in the API server', async () => {
    const gc = JSON.parse(await kube.kubectl(['get', 'gatewayclass', 'egressway', '-o', 'json']));
    assert.equal(gc.spec.controllerName, 'egressway.io/gateway-controller');
    await kube.kubectl(['get', '-n', NS, 'deployment/egressway-controller', 'serviceaccount/egressway-controller', 'configmap/egressway-gatewayclass', 'pdb/egressway-controller', 'role/egressway-controller-leader']);
    await kube.kubectl(['get', 'clusterrole/egressway-controller', 'clusterrole/egressway-waypoint', 'clusterrole/egressway-waypoint-secrets', 'clusterrolebinding/egressway-controller']);
  });

  test('controller ServiceAccount: every verb it needs, nothing it must not (kubectl auth can-i)', async () => {
    await expectCan(CONTROLLER, [
      ...['gatewayclasses', 'gateways', 'httproutes'].flatMap((r) => ['get', 'list', 'watch'].map((v) => [true, v, `${r}.gateway.networking.k8s.io`] as const)),
      ...['gatewayclasses', 'gateways', 'httproutes'].map((r) => [true, 'patch', `${r}.gateway.networking.k8s.io:status`] as const),
      [true, 'list', 'serviceentries.networking.istio.io'], [true, 'watch', 'serviceentries.networking.istio.io'],
      [true, 'patch', 'serviceentries.networking.istio.io:status'],
      ...['serviceaccounts', 'services', 'deployments.apps', 'poddisruptionbudgets.policy'].flatMap((r) => ['get', 'list', 'watch', 'create', 'patch', 'update', 'delete'].map((v) => [true, v, r, 'istio-egress'] as const)),
      [true, 'get', 'configmaps', 'istio-egress'], [true, 'list', 'configmaps'],
      [true, 'create', 'events', 'istio-egress'], [true, 'patch', 'events', 'istio-egress'],
      [true, 'create', 'clusterrolebindings.rbac.authorization.k8s.io'], [true, 'create', 'rolebindings.rbac.authorization.k8s.io', 'istio-egress'],
      [true, 'bind', 'clusterroles.rbac.authorization.k8s.io/egressway-waypoint'], [true, 'bind', 'clusterroles.rbac.authorization.k8s.io/egressway-waypoint-secrets'],
      [true, 'get', 'customresourcedefinitions.apiextensions.k8s.io/gateways.gateway.networking.k8s.io'],
      [false, 'get', 'customresourcedefinitions.apiextensions.k8s.io/serviceentries.networking.istio.io'],
      [true, 'create', 'leases.coordination.k8s.io', NS], [true, 'get', 'leases.coordination.k8s.io/egressway-controller', NS], [true, 'update', 'leases.coordination.k8s.io/egressway-controller', NS],
      // Must not:
      [false, 'delete', 'gatewayclasses.gateway.networking.k8s.io'], [false, 'update', 'gateways.gateway.networking.k8s.io', 'istio-egress'],
      [false, 'patch', 'serviceentries.networking.istio.io', 'istio-egress'], [false, 'update', 'httproutes.gateway.networking.k8s.io', 'istio-egress'],
      [false, 'get', 'secrets', 'istio-egress'], [false, 'list', 'secrets'], [false, 'create', 'pods', 'istio-egress'], [false, 'create', 'pods:exec', 'istio-egress'],
      [false, 'create', 'configmaps', 'istio-egress'], [false, 'create', 'namespaces'],
      [false, 'escalate', 'clusterroles.rbac.authorization.k8s.io'], [false, 'bind', 'clusterroles.rbac.authorization.k8s.io/cluster-admin'],
      [false, 'create', 'clusterroles.rbac.authorization.k8s.io'], [false, 'update', 'clusterroles.rbac.authorization.k8s.io/egressway-waypoint'],
      [false, 'update', 'leases.coordination.k8s.io/other', NS], [false, 'create', 'leases.coordination.k8s.io', 'kube-system'],
      [false, 'create', 'serviceaccounts:token', 'istio-egress'], [false, 'impersonate', 'serviceaccounts'],
    ]);
  });

  test('with its own token the controller provisions a waypoint identity and binds the waypoint roles, but cannot bind cluster-admin', async () => {
    await as(controllerConfig, ['create', 'serviceaccount', 'egress', '-n', 'istio-egress']);
    await as(controllerConfig, ['create', 'clusterrolebinding', 'egressway-waypoint-istio-egress-egress', '--clusterrole', 'egressway-waypoint', '--serviceaccount', 'istio-egress:egress']);
    await as(controllerConfig, ['create', 'rolebinding', 'egressway-waypoint-secrets', '-n', 'istio-egress', '--clusterrole', 'egressway-waypoint-secrets', '--serviceaccount', 'istio-egress:egress']);
    await assert.rejects(as(controllerConfig, ['create', 'clusterrolebinding', 'grab', '--clusterrole', 'cluster-admin', '--serviceaccount', 'istio-egress:egress']), /forbidden/);
    await assert.rejects(as(controllerConfig, ['create', 'rolebinding', 'grab', '-n', 'istio-egress', '--clusterrole', 'cluster-admin', '--serviceaccount', 'istio-egress:egress']), /forbidden/);
    // A role holding one permission the controller lacks. (Not `edit`/`view`: those are aggregated by
    // kube-controller-manager, which this API server runs without, so their rules are empty here.)
    await kube.kubectl(['create', 'clusterrole', 'secret-reader', '--verb', 'get', '--resource', 'secrets']);
    await assert.rejects(as(controllerConfig, ['create', 'rolebinding', 'grab', '-n', 'istio-egress', '--clusterrole', 'secret-reader', '--serviceaccount', 'istio-egress:egress']), /forbidden/);
    await assert.rejects(as(controllerConfig, ['get', 'secrets', '-n', 'istio-egress']), /forbidden/);
  });

  test('waypoint ServiceAccount (bound as the controller binds it): reads its kinds, its own Secrets, nothing else', async () => {
    const kinds = ['gatewayclasses.gateway.networking.k8s.io', 'gateways.gateway.networking.k8s.io', 'httproutes.gateway.networking.k8s.io', 'referencegrants.gateway.networking.k8s.io',
      'serviceentries.networking.istio.io', 'virtualservices.networking.istio.io', 'destinationrules.networking.istio.io',
      'authorizationpolicies.security.istio.io', 'requestauthentications.security.istio.io', 'namespaces'];
    await expectCan(WAYPOINT, [
      ...kinds.flatMap((k) => ['get', 'list', 'watch'].map((v) => [true, v, k] as const)),
      [true, 'get', 'configmaps/istio', 'istio-system'], [true, 'list', 'configmaps/istio', 'istio-system'],
      [true, 'get', 'secrets', 'istio-egress'], [true, 'list', 'secrets', 'istio-egress'], [true, 'watch', 'secrets', 'istio-egress'],
      [true, 'create', 'events', 'other'], [true, 'get', 'events', 'other'], [true, 'patch', 'events', 'other'],
      // Must not:
      [false, 'get', 'secrets', 'other'], [false, 'list', 'secrets'], [false, 'list', 'configmaps', 'istio-system'], [false, 'get', 'configmaps/other', 'istio-system'],
      [false, 'get', 'configmaps/istio-ca-root-cert', 'istio-egress'],
      [false, 'list', 'pods'], [false, 'create', 'pods', 'istio-egress'], [false, 'patch', 'serviceentries.networking.istio.io', 'istio-egress'],
      [false, 'patch', 'gateways.gateway.networking.k8s.io:status', 'istio-egress'], [false, 'delete', 'gatewayclasses.gateway.networking.k8s.io'],
      [false, 'create', 'clusterrolebindings.rbac.authorization.k8s.io'], [false, 'escalate', 'clusterroles.rbac.authorization.k8s.io'],
      [false, 'update', 'leases.coordination.k8s.io/egressway-controller', NS],
    ]);
  });

  test('with its own token the waypoint really lists and watches every kind, and the mesh ConfigMap by name', async () => {
    const cfg = await kube.kubeconfigFor('istio-egress', 'egress');
    for (const path of ['/apis/networking.istio.io/v1/serviceentries', '/apis/security.istio.io/v1/authorizationpolicies', '/apis/gateway.networking.k8s.io/v1/gateways', '/api/v1/namespaces',
      '/api/v1/namespaces/istio-system/configmaps?fieldSelector=metadata.name%3Distio', '/api/v1/namespaces/istio-egress/secrets']) {
      const list = JSON.parse(await as(cfg, ['get', '--raw', path]));
      assert.match(list.kind, /List$/, path);
      const sep = path.includes('?') ? '&' : '?';
      await as(cfg, ['get', '--raw', `${path}${sep}watch=true&timeoutSeconds=1&resourceVersion=${list.metadata.resourceVersion}`]);
    }
    await assert.rejects(as(cfg, ['get', '--raw', '/api/v1/namespaces/istio-system/configmaps']), /forbidden/i, 'all ConfigMaps of istio-system: no');
    await assert.rejects(as(cfg, ['get', '--raw', '/api/v1/namespaces/other/secrets']), /forbidden/i);
  });

  test('`egressway run --kubernetes` with exactly the waypoint role becomes ready (every kind listed, no 403)', async () => {
    await kube.kubectl(['apply', '-f', '-'], WAYPOINT_YAML.replace('name: waypoint', 'name: egress'));
    const cfg = await kube.kubeconfigFor('istio-egress', 'egress');
    let wp: Waypoint | undefined;
    try {
      wp = await startWaypoint({ configDir: '', args: ['--kubernetes', '--kubeconfig', cfg, '--waypoint', 'istio-egress/egress', '--access-log', 'off'], startTimeoutMs: 90_000 });
      // 403 as a word: a listening line's random port (say 40395) is not a denial.
      const denied = wp.logs.filter((l) => /\b403\b|forbidden|may not list/i.test(JSON.stringify(l)));
      assert.deepEqual(denied, []);
    } finally {
      await wp?.close();
    }
  });

  test('`egressway controller` with exactly the controller role: takes the Lease, provisions a Gateway of the class, no 403',
    { skip: existsSync(join(REPO_ROOT, 'src/cli/controller.ts')) ? undefined : 'skipped: no `egressway controller` in this tree (src/cli/controller.ts)' }, async () => {
      await kube.kubectl(['apply', '-f', '-'], 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: edge, namespace: istio-egress}\nspec:\n  gatewayClassName: egressway\n  listeners: [{name: mesh, port: 15008, protocol: HBONE}]\n');
      const child = spawn(join(REPO_ROOT, 'node_modules/.bin/node'), [join(REPO_ROOT, 'src/cli/main.ts'), 'controller', '--kubeconfig', controllerConfig,
        '--lease-namespace', NS, '--metrics-port', '0', '--metrics-address', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (c) => (stderr += c));
      const logs = new LogCollector(child.stdout!);
      child.once('exit', (code) => logs.end(new Error(`controller exited ${code}: ${stderr.slice(-2000)}`)));
      const describe = () => `${stderr.slice(-2000)}\n${logs.lines.slice(-15).map((l) => JSON.stringify(l)).join('\n')}`;
      try {
        await logs.waitFor((l) => l.msg === 'controller started', 60_000, describe);
        const deadline = Date.now() + 60_000;
        const want = ['serviceaccount/edge', 'deployment.apps/edge', 'service/edge', 'poddisruptionbudget.policy/edge'];
        for (;;) {
          const have = (await kube.kubectl(['get', 'serviceaccount,deployment,service,pdb', '-n', 'istio-egress', '-o', 'name'])).split('\n');
          const lease = JSON.parse(await kube.kubectl(['get', 'lease', 'egressway-controller', '-n', NS, '-o', 'json']).catch(() => '{}'));
          if (want.every((w) => have.includes(w)) && lease.spec?.holderIdentity) break;
          if (Date.now() > deadline) assert.fail(`not provisioned in 60 s (have ${have.join(' ')}; lease ${JSON.stringify(lease.spec)}): ${describe()}`);
          await new Promise((r) => setTimeout(r, 500));
        }
        const gc = JSON.parse(await kube.kubectl(['get', 'gatewayclass', 'egressway', '-o', 'json']));
        assert.equal(gc.status?.conditions?.find((c: { type: string }) => c.type === 'Accepted')?.status, 'True', JSON.stringify(gc.status));
        const denied = logs.lines.filter((l) => /\b403\b|forbidden/i.test(JSON.stringify(l)));
        assert.deepEqual(denied, [], 'the controller hit no RBAC denial');
      } finally {
        child.kill('SIGTERM');
        if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      }
    });

  test('waypoint.podIdentity.enabled=true (helm upgrade) grants pods list/watch and nothing more on pods', async () => {
    assert.equal(await canI(WAYPOINT, 'list', 'pods'), false);
    const r = await helm(['upgrade', 'egressway', CHART, '--namespace', NS, '--reuse-values', '--set', 'waypoint.podIdentity.enabled=true', '--kubeconfig', kube.kubeconfig]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await expectCan(WAYPOINT, [[true, 'list', 'pods'], [true, 'watch', 'pods'], [false, 'get', 'pods', 'istio-egress'], [false, 'create', 'pods', 'istio-egress'], [false, 'delete', 'pods', 'istio-egress']]);
  });

  test('helm uninstall removes what the chart installed', async () => {
    const r = await helm(['uninstall', 'egressway', '--namespace', NS, '--kubeconfig', kube.kubeconfig]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const obj of ['gatewayclass/egressway', 'clusterrole/egressway-waypoint', 'clusterrole/egressway-controller', 'clusterrolebinding/egressway-controller']) {
      await assert.rejects(kube.kubectl(['get', obj]), /NotFound|not found/, obj);
    }
    const left = (await kube.kubectl(['get', 'deployment,serviceaccount,configmap,role,rolebinding,pdb', '-n', NS, '-l', 'app.kubernetes.io/instance=egressway', '-o', 'name'])).trim();
    assert.equal(left, '');
  });
});
