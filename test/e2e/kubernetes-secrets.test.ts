// `run --kubernetes` reads DestinationRule credentialName Secrets from the API server (Istio's keys and
// the `<name>-cacert` companion), with a ServiceAccount that may read only those Secrets by name (a Role
// with resourceNames: no cluster-wide or namespace-wide Secret list). A real TLS upstream requires the
// client certificate and echoes its common name, so the test sees which certificate was used.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { issueCert, makeCa, type CertificateAuthority } from '../helpers/certs.ts';
import { installCrds, kubePeersMissing, secretYaml, startKube, type KubeControlPlane } from '../helpers/kube.ts';
import { destinationRule, loopbackEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';
import { fetchVia } from '../helpers/proxy-fetch.ts';
import { startWaypoint, type Waypoint } from '../helpers/waypoint.ts';
import { eventually } from '../helpers/eventually.ts';

const skip = kubePeersMissing();
if (skip) console.log(`# kubernetes-secrets: ${skip}`);


const dr = (name: string, tls: string) => destinationRule(name, `{tls: ${tls}}`);
const se = (name: string, port: number) => loopbackEntry(name, port);

const secret = secretYaml;

// What the waypoint needs, and no more: read the config kinds cluster-wide, and exactly the named
// Secrets in its own namespace.
const RBAC = `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: waypoint-config}
rules:
- {apiGroups: [networking.istio.io, security.istio.io, gateway.networking.k8s.io], resources: ["*"], verbs: [get, list, watch]}
- {apiGroups: [""], resources: [namespaces, configmaps], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: waypoint-config}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: waypoint-config}
subjects: [{kind: ServiceAccount, name: waypoint, namespace: istio-egress}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: waypoint-credentials, namespace: istio-egress}
rules:
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [upstream-client, upstream-client-cacert, missing-client, missing-client-cacert]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: waypoint-credentials, namespace: istio-egress}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: waypoint-credentials}
subjects: [{kind: ServiceAccount, name: waypoint, namespace: istio-egress}]
`;

describe('credentialName Secrets from the API server', { skip, timeout: 300_000 }, () => {
  let kube: KubeControlPlane;
  let ca: CertificateAuthority;
  let upstream: Server;
  let port: number;
  let wp: Waypoint;
  const client = async (cn: string) => issueCert(ca, { commonName: cn, isClient: true });
  const get = (host: string) => fetchVia(wp.proxyUrl, `http://${host}/`, {}, { tunnel: false });
  const seenCn = async () => {
    const r = await get('upstream-client.test');
    return r.status === 200 ? r.text() : `status ${r.status}`;
  };

  before(async () => {
    kube = await startKube();
    await installCrds(kube);
    ca = await makeCa({ commonName: 'upstream root' });
    const server = await issueCert(ca, { dnsNames: ['upstream-client.test', 'missing-client.test'] });
    // Requires a client certificate from `ca`; answers with its CN; one request per connection, so
    // every request shows the certificate the waypoint dials with now.
    upstream = createServer({ cert: server.cert, key: server.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      res.writeHead(200, { connection: 'close' }).end((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    port = (upstream.address() as { port: number }).port;
    await kube.kubectl(['create', 'namespace', 'istio-egress']);
    await kube.kubectl(['create', 'serviceaccount', 'waypoint', '-n', 'istio-egress']);
    const first = await client('client-one');
    // The key pair in a kubernetes.io/tls Secret; the CA in Istio's `<name>-cacert` companion.
    await kube.kubectl(['apply', '-f', '-'], RBAC
      + secret('upstream-client', { 'tls.crt': first.cert, 'tls.key': first.key }, 'kubernetes.io/tls')
      + secret('upstream-client-cacert', { 'ca.crt': ca.cert })
      + secret('unrelated', { token: 'not for the waypoint' }));
    await kube.kubectl(['apply', '-f', '-'], WAYPOINT_YAML
      + se('upstream-client', port) + dr('upstream-client', '{mode: MUTUAL, credentialName: upstream-client}')
      + se('missing-client', port) + dr('missing-client', '{mode: MUTUAL, credentialName: missing-client}'));
    const kubeconfig = await kube.kubeconfigFor('istio-egress', 'waypoint');
    wp = await startWaypoint({ configDir: '', args: ['--kubernetes', '--kubeconfig', kubeconfig, '--access-log', 'off'], startTimeoutMs: 60_000 });
  });
  after(async () => {
    await wp?.close();
    upstream?.close();
    await kube?.close();
  });

  test('the client certificate comes from the Secret, the CA from <name>-cacert, with only per-name RBAC', async () => {
    assert.equal(await seenCn(), 'client-one');
    assert.doesNotMatch(wp.stderr + JSON.stringify(wp.logs), /HTTP 403/, 'no list or watch was forbidden');
  });

  test('a missing Secret fails closed and is named in the log', async () => {
    const r = await get('missing-client.test');
    assert.equal(r.status, 503);
    const line = wp.logs.find((l) => String(l.msg).includes('Secret istio-egress/missing-client (credentialName) not found'));
    assert.ok(line, 'the log names the missing Secret');
    // Created later: used without a restart.
    const c = await client('client-late');
    await kube.kubectl(['apply', '-f', '-'], secret('missing-client', { 'tls.crt': c.cert, 'tls.key': c.key, 'ca.crt': ca.cert }, 'kubernetes.io/tls'));
    await eventually('the late Secret is used', async () => (await get('missing-client.test')).status === 200);
  });

  test('a rotated Secret is used by the next connection, without a restart', async () => {
    const next = await client('client-two');
    await kube.kubectl(['apply', '-f', '-'], secret('upstream-client', { 'tls.crt': next.cert, 'tls.key': next.key }, 'kubernetes.io/tls'));
    await eventually('client-two in use', async () => (await seenCn()) === 'client-two');
  });

  test('a deleted Secret, then one without the keys, fail closed and say why; fixed, it is used again', async () => {
    await kube.kubectl(['delete', 'secret', 'upstream-client', '-n', 'istio-egress']);
    await eventually('503 once deleted', async () => (await seenCn()) === 'status 503');
    // A Secret's type cannot change: recreated as a generic one, first without usable keys.
    await kube.kubectl(['apply', '-f', '-'], secret('upstream-client', { 'cert.pem': 'x' }));
    await wp.waitForLog((l) => String(l.msg).includes('not the keys (cert and key) or (tls.crt and tls.key); found: cert.pem'), 15_000);
    assert.equal(await seenCn(), 'status 503');
    const again = await client('client-three');
    // Istio's generic keys work too: cert/key.
    await kube.kubectl(['apply', '-f', '-'], secret('upstream-client', { cert: again.cert, key: again.key }));
    await eventually('client-three in use', async () => (await seenCn()) === 'client-three');
  });

  test('a Secret no longer referenced is no longer watched (and its watch is not restarted)', async () => {
    const secretWatches = async () => (await kube.kubectl(['get', '--raw', '/metrics'])).split('\n')
      .filter((l) => l.startsWith('apiserver_longrunning_requests{') && l.includes('verb="WATCH"') && l.includes('resource="secrets"'))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    // The API server's own informers watch Secrets too: count the difference.
    const before = await secretWatches();
    await kube.kubectl(['delete', 'destinationrule', 'missing-client', '-n', 'istio-egress']);
    await eventually('the Secret and its -cacert companion unwatched', async () => (await secretWatches()) === before - 2);
    // A stopped watch's abort once read as a failure, and the watch came back after the backoff.
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(await secretWatches(), before - 2);
  });
});
