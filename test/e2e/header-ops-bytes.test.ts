// A VirtualService header value that is not ASCII goes out as its UTF-8 bytes, as Envoy sends it.
// Regression: Node writes header strings as latin1 and refuses characters past U+00FF, so
// `x-f: "é€"` failed every request on the route, blamed on the upstream (request side: 503 UC;
// response side: 502 UPE), and `é` alone went out as one byte. A header name that is not an HTTP
// token ("x b") failed the same way: it is a config error now, for HTTPRoute as its CRD says.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { validateResource } from '../../src/config/kinds/index.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import { serviceEntry, startInProcess, WAYPOINT_YAML, type InProcess } from '../helpers/inprocess.ts';
import { rawExchange } from '../helpers/raw-client.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../helpers/recording-upstream.ts';

const UTF8 = Buffer.from('é€', 'utf8').toString('latin1'); // what the wire carries, read as latin1

describe('non-ASCII header values from a VirtualService', () => {
  let up: RecordingUpstream;
  let wp: InProcess;
  let port: number;

  before(async () => {
    up = await startRecordingUpstream();
    wp = await startInProcess(WAYPOINT_YAML
      + serviceEntry('api', `hosts: [api.test]\nports: [{number: 80, name: http, protocol: HTTP, targetPort: ${up.port}}]\nresolution: STATIC\nendpoints: [{address: 127.0.0.1}]`)
      + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: istio-egress}
spec:
  hosts: [api.test]
  http:
  - headers:
      request: {set: {x-req: "é€"}}
      response: {set: {x-res: "é€"}}
    route: [{destination: {host: api.test}}]
`);
    port = Number(wp.proxyUrl.split(':').pop());
  });
  after(async () => {
    await wp?.close();
    await up?.close();
  });
  beforeEach(() => up.reset());

  test('the request and the response carry the UTF-8 bytes; the request is served', async () => {
    const r = await rawExchange(port, ['GET /x HTTP/1.1\r\nHost: api.test\r\n\r\n']);
    assert.deepEqual(r.statuses, [200], r.text);
    assert.match(r.text, new RegExp(`\\r\\nx-res: ${UTF8}\\r\\n`));
    assert.match(up.bytes(), new RegExp(`\\r\\nx-req: ${UTF8}\\r\\n`));
  });
});

describe('header names no request can carry are config errors, naming the place', () => {
  const diags = (yaml: string) => parseDocuments(yaml, 'h.yaml').resources.flatMap((r) => validateResource(r).diagnostics)
    .filter((d) => d.level === 'error').map((d) => `${d.path}: ${d.message}`);

  test('HTTPRoute header modifiers: the Gateway API CRD pattern', () => {
    const got = diags(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: istio-egress}
spec:
  parentRefs: [{kind: ServiceEntry, group: networking.istio.io, name: api}]
  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: "x b", value: "1"}], remove: ["ok", "x(e)"]}
    - type: ResponseHeaderModifier
      responseHeaderModifier: {add: [{name: "x-ok", value: "é€"}]}
`);
    assert.equal(got.length, 2, got.join('\n'));
    assert.match(got[0]!, /^spec\.rules\[0\]\.filters\[0\]\.requestHeaderModifier\.set\[0\]\.name: Invalid value: "x b"/);
    assert.match(got[1]!, /^spec\.rules\[0\]\.filters\[0\]\.requestHeaderModifier\.remove\[1\]: Invalid value: "x\(e\)"/);
  });
});
