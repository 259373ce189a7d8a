// A retry with zero attempts is no retry policy in Istio (route/retry/retry.go ConvertPolicy:
// "attempts <= 0 ... explicitly disabling the retry policy" returns nil), so a per-try timeout that
// comes with it never reaches Envoy: an HTTPRoute `retry: {attempts: 0}` turns `backendRequest` into
// a per-try timeout (conversion.go, vs.Retries is set) that is then dropped. A slow upstream is
// therefore not cut off. (A VirtualService with attempts 0 and a perTryTimeout is rejected: IST0106.)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loopbackEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { proxyClient, type ProxyClient } from '../helpers/proxy-fetch.ts';
import { startHttpUpstream, type HttpUpstream } from '../helpers/upstream.ts';

describe('retry with attempts 0: no per-try timeout, as ConvertPolicy returns no policy', () => {
  let up: HttpUpstream;
  let wp: InProcess;
  let client: ProxyClient;

  before(async () => {
    up = await startHttpUpstream({ name: 'slow' });
    const yaml = WAYPOINT_YAML + loopbackEntry('hr', up.port) + loopbackEntry('hr-retry', up.port) + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hr, namespace: istio-egress}
spec:
  parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: hr}]
  rules:
  - retry: {attempts: 0}
    timeouts: {backendRequest: 150ms}
    backendRefs: [{group: networking.istio.io, kind: Hostname, name: hr.test, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: hr-retry, namespace: istio-egress}
spec:
  parentRefs: [{group: networking.istio.io, kind: ServiceEntry, name: hr-retry}]
  rules:
  - retry: {attempts: 1}
    timeouts: {backendRequest: 150ms}
    backendRefs: [{group: networking.istio.io, kind: Hostname, name: hr-retry.test, port: 80}]
`;
    wp = await startInProcess(yaml);
    client = proxyClient(wp.proxyUrl, { tunnel: false });
  });
  after(async () => {
    await client?.close();
    await wp?.close();
    await up?.close();
  });

  test('HTTPRoute retry {attempts: 0} with backendRequest 150ms: a 500 ms response arrives', async () => {
    const res = await client.fetch('http://hr.test/delay/500');
    assert.equal(res.status, 200, res.text());
  });

  test('with attempts 1 the per-try timeout stays: 504 UT', async () => {
    const res = await client.fetch('http://hr-retry.test/delay/500');
    assert.equal(res.status, 504, res.text());
  });
});
