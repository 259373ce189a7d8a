// istiod's ApplyRedirect knows 301 (0 or unset too), 302, 303, 307 and 308. Another 3xx passes
// validation, but the route it writes has no action and Envoy rejects the whole route
// configuration; compile refuses it the same way, so the last good snapshot stays.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compile } from '../../src/compile/compile.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import { serviceEntry, WAYPOINT_YAML } from '../helpers/inprocess.ts';

const yaml = (code: number) => WAYPOINT_YAML
  + serviceEntry('a', 'hosts: [a.test]\nports: [{number: 80, name: http, protocol: HTTP}]\nresolution: DNS')
  + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: moved, namespace: istio-egress}
spec:
  hosts: [a.test]
  http:
  - redirect: {uri: /x, redirectCode: ${code}}
`;

test('redirect codes istiod writes compile; 305 is refused by resource and field', () => {
  for (const code of [0, 301, 302, 303, 307, 308]) {
    const out = compile(parseDocuments(yaml(code), 'vs.yaml').resources, {});
    assert.ok(out.snapshot, `${code}: ${JSON.stringify(out.diagnostics)}`);
    const rule = [...out.snapshot.routes.values()][0]!.rules[0]!;
    assert.equal(rule.action.kind === 'redirect' && rule.action.status, code || 301);
  }
  const bad = compile(parseDocuments(yaml(305), 'vs.yaml').resources, {});
  assert.equal(bad.snapshot, undefined);
  const err = bad.diagnostics.find((d) => d.level === 'error');
  assert.equal(err?.resource?.name, 'moved');
  assert.equal(err?.path, 'spec.http[0].redirect.redirectCode');
  assert.match(err!.message, /redirect code 305 is not supported/);
});
