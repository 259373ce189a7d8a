// VirtualService validation against a table ported from Istio's virtualservice_test.go and
// validation_test.go (TestValidateVirtualService, TestValidateHTTPRoute, TestValidateTLSRoute ...):
// the same inputs, the same valid / warning / error outcome, Istio's messages.
import { test } from 'node:test';
import { checkCase } from './istio-cases.ts';
import type { IstioCase } from './istio-cases.ts';

const dest = (host = 'foo.bar') => [{ destination: { host } }];
const http = (extra: Record<string, unknown> = {}) => ({ route: dest(), ...extra });
const vs = (route: Record<string, unknown>, more: Record<string, unknown> = {}) => ({ hosts: ['foo.bar'], http: [route], ...more });

const cases: IstioCase[] = [
  { name: 'simple', spec: vs(http()), expect: 'valid' },
  { name: 'no routes', spec: { hosts: ['foo.bar'] }, expect: 'error', message: 'http, tcp or tls must be provided in virtual service' },
  // Hosts
  { name: 'duplicate hosts', spec: { hosts: ['*.foo.bar', '*.foo.bar'], http: [http()] }, expect: 'error', message: 'duplicate hosts in virtual service: *.foo.bar & *.foo.bar' },
  { name: 'overlapping wildcard hosts', spec: { hosts: ['*.foo.bar', '*.bar'], http: [http()] }, expect: 'error', message: 'duplicate hosts in virtual service: *.foo.bar & *.bar' },
  { name: 'wildcard covers a host', spec: { hosts: ['a.foo.bar', '*.foo.bar'], http: [http()] }, expect: 'error', message: 'duplicate hosts' },
  { name: 'distinct wildcards', spec: { hosts: ['*.foo.bar', '*.foo.baz'], http: [http()] }, expect: 'valid' },
  { name: 'IP host', spec: { hosts: ['10.0.0.1', '2001:db8::1'], http: [http()] }, expect: 'valid' },
  { name: '* on the mesh', spec: { hosts: ['*'], http: [http()] }, expect: 'error', message: 'wildcard host * is not allowed for virtual services bound to the mesh gateway' },
  { name: '* on a gateway', spec: { hosts: ['*'], gateways: ['ns/gw'], http: [http()] }, expect: 'valid' },
  // Gateways
  { name: 'legacy FQDN gateway name', spec: vs(http(), { gateways: ['gw.istio-system.svc.cluster.local'] }), expect: 'warning', message: 'using legacy gatewayName format "gw.istio-system.svc.cluster.local"; prefer the <namespace>/<name> format: "istio-system/gw"' },
  { name: 'namespace/name gateway', spec: vs(http(), { gateways: ['istio-system/gw'] }), expect: 'valid' },
  { name: 'gateway name with a dot after the slash', spec: vs(http(), { gateways: ['istio-system/gw.x'] }), expect: 'error', message: 'invalid value for gateway name: "gw.x"' },
  { name: 'empty gateway namespace', spec: vs(http(), { gateways: ['/gw'] }), expect: 'error', message: 'config namespace and gateway name cannot be empty' },
  // Delegation
  { name: 'root route with delegate only', spec: vs({ delegate: { name: 'd', namespace: 'ns' } }), expect: 'valid' },
  { name: 'root route with delegate and route', spec: vs({ name: 'r', delegate: { name: 'd' }, route: dest() }), expect: 'error', message: 'root HTTP route r must not specify route' },
  { name: 'root route with delegate and redirect', spec: vs({ name: 'r', delegate: { name: 'd' }, redirect: { uri: '/x' } }), expect: 'error', message: 'root HTTP route r must not specify redirect' },
  { name: 'delegate VS delegating again', spec: { http: [{ delegate: { name: 'd' }, route: dest() }] }, expect: 'error', message: 'delegate HTTP route cannot contain delegate' },
  { name: 'delegate VS with gateways', spec: { gateways: ['ns/gw'], http: [http()] }, expect: 'error', message: 'delegate virtual service must have no gateways specified' },
  // Header operations
  { name: 'header ops ok', spec: vs(http({ headers: { request: { set: { 'x-a': 'b', ':authority': 'c' }, add: { 'x-b': '100%%' }, remove: ['x-c'] }, response: { set: { 'x-d': '%HOSTNAME%' } } } })), expect: 'valid' },
  { name: 'empty request set name', spec: vs(http({ headers: { request: { set: { '': 'b' } } } })), expect: 'error', message: 'header name cannot be empty' },
  { name: 'empty response remove name', spec: vs(http({ headers: { response: { remove: [''] } } })), expect: 'error', message: 'header name cannot be empty' },
  { name: 'pseudo header set', spec: vs(http({ headers: { request: { set: { ':path': '/x' } } } })), expect: 'error', message: 'invalid header ":path": header cannot have ":" prefix' },
  { name: 'response Host set', spec: vs(http({ headers: { response: { set: { host: 'x' } } } })), expect: 'error', message: 'invalid header "host": cannot set Host header' },
  { name: 'unescaped % in value', spec: vs(http({ headers: { request: { set: { 'x-a': 'abc%123' } } } })), expect: 'error', message: 'Un-terminated variable expression' },
  { name: 'trailing % in value', spec: vs(http({ headers: { request: { add: { 'x-a': '100%' } } } })), expect: 'error', message: 'Un-escaped %' },
  { name: 'variable then stray %', spec: vs(http({ headers: { request: { add: { 'x-a': '%START_TIME%%' } } } })), expect: 'error', message: 'header value configuration' },
  // Beyond Istio: a name no request can carry failed every request on the route (503 UC, 502 UPE).
  { name: 'request set name with a space', spec: vs(http({ headers: { request: { set: { 'x b': '1' } } } })), expect: 'error', message: 'header name "x b" is not a valid HTTP header name' },
  { name: 'response set name with parentheses', spec: vs(http({ headers: { response: { set: { 'x(e)': '1' } } } })), expect: 'error', message: 'header name "x(e)" is not a valid HTTP header name' },
  { name: 'request remove name with a colon inside', spec: vs(http({ headers: { request: { remove: ['x:y'] } } })), expect: 'error', message: 'header name "x:y" is not a valid HTTP header name' },
  { name: 'non-ASCII value', spec: vs(http({ headers: { response: { set: { 'x-f': 'é€' } } } })), expect: 'valid' },
  { name: 'variable with args', spec: vs(http({ headers: { request: { add: { 'x-a': '%REQ(x-b)%' } } } })), expect: 'valid' },
  { name: 'control character in value', spec: vs(http({ headers: { request: { add: { 'x-a': 'a\u0001b' } } } })), expect: 'error', message: 'is invalid' },
  { name: 'destination header ops checked', spec: vs({ route: [{ destination: { host: 'foo.bar' }, headers: { request: { set: { '': 'x' } } } }] }), expect: 'error', message: 'header name cannot be empty' },
  { name: 'authority set twice', spec: vs(http({ rewrite: { authority: 'a' }, headers: { request: { set: { host: 'b' } } } })), expect: 'error', message: 'authority header cannot be set multiple times: have "a", attempting to set "b"' },
  // String matches
  { name: 'empty uri prefix is allowed', spec: vs(http({ match: [{ uri: { prefix: '' } }] })), expect: 'valid' },
  { name: 'empty header prefix', spec: vs(http({ match: [{ headers: { 'x-a': { prefix: '' } } }] })), expect: 'error', message: '"headers": prefix string match should not be empty' },
  { name: 'empty method regex', spec: vs(http({ match: [{ method: { regex: '' } }] })), expect: 'error', message: '"method": regex string match should not be empty' },
  { name: 'empty uri regex', spec: vs(http({ match: [{ uri: { regex: '' } }] })), expect: 'error', message: '"uri": regex string match should not be empty' },
  { name: 'empty authority prefix', spec: vs(http({ match: [{ authority: { prefix: '' } }] })), expect: 'error', message: '"authority": prefix string match should not be empty' },
  { name: 'empty query param prefix', spec: vs(http({ match: [{ queryParams: { q: { prefix: '' } } }] })), expect: 'error', message: '"queryParams": prefix string match should not be empty' },
  { name: 'bad regex', spec: vs(http({ match: [{ uri: { regex: '(' } }] })), expect: 'error', message: 'Istio uses RE2 style regex-based match' },
  { name: 'lookahead is not RE2', spec: vs(http({ match: [{ uri: { regex: '/a(?=b)' } }] })), expect: 'error', message: 'RE2' },
  { name: 'RE2 named group', spec: vs(http({ match: [{ uri: { regex: '/(?P<x>a+)' } }] })), expect: 'valid' },
  // RE2 as Go's regexp (istiod) reads it: accepted where JS would refuse, refused where JS would accept.
  { name: 'RE2 inline flag (?i)', spec: vs(http({ match: [{ uri: { regex: '(?i)/api/.*' } }] })), expect: 'valid' },
  { name: 'RE2 (?i) mid-pattern and (?s:...)', spec: vs(http({ match: [{ uri: { regex: '/a(?i)b(?s:.)' } }] })), expect: 'valid' },
  { name: 'RE2 \\Q...\\E, \\z and POSIX classes', spec: vs(http({ match: [{ uri: { regex: '\\Q/a.b\\E[[:digit:]]+\\z' } }] })), expect: 'valid' },
  { name: 'RE2 \\pL and \\p{Greek}', spec: vs(http({ match: [{ headers: { 'x-a': { regex: '\\pL\\p{Greek}' } } }] })), expect: 'valid' },
  { name: 'RE2 (?P<name>) in a uriRegexRewrite', spec: vs(http({ rewrite: { uriRegexRewrite: { match: '^/(?P<v>v1)/(.*)', rewrite: '/\\2' } } })), expect: 'valid' },
  { name: 'Go refuses \\e (JS reads e)', spec: vs(http({ match: [{ uri: { regex: '/a\\e' } }] })), expect: 'error', message: '"uri": error parsing regexp: invalid escape sequence: `\\e`; Istio uses RE2' },
  { name: 'Go refuses a repeat over 1000', spec: vs(http({ match: [{ queryParams: { q: { regex: 'a{1001}' } } }] })), expect: 'error', message: '"queryParams": error parsing regexp: invalid repeat count: `{1001}`' },
  { name: 'Go refuses a nested repetition', spec: vs(http({ match: [{ headers: { 'x-a': { regex: 'a**' } } }] })), expect: 'error', message: 'invalid nested repetition operator: `**`' },
  { name: 'Go refuses a backreference', spec: vs(http({ match: [{ uri: { regex: '(a)\\1' } }] })), expect: 'error', message: 'invalid escape sequence: `\\1`' },
  { name: 'Go refuses an unknown Unicode class', spec: vs(http({ match: [{ uri: { regex: '\\p{Klingon}' } }] })), expect: 'error', message: 'invalid character class range: `\\p{Klingon}`' },
  { name: 'Go refuses an unknown flag', spec: vs(http({ match: [{ uri: { regex: '(?x)a' } }] })), expect: 'error', message: 'invalid or unsupported Perl syntax' },
  { name: 'uriRegexRewrite match checked as RE2', spec: vs(http({ rewrite: { uriRegexRewrite: { match: 'a{2}{3}', rewrite: '/' } } })), expect: 'error', message: '"HTTPRewrite.UriRegexRewrite.Match": error parsing regexp' },
  { name: 'redirect code 305 passes validation (istiod refuses it only when building the route)', spec: vs({ redirect: { uri: '/x', redirectCode: 305 } }), expect: 'valid' },
  { name: 'regex too long', spec: vs(http({ match: [{ uri: { regex: 'a'.repeat(1025) } }] })), expect: 'error', message: 'regex is too large, max length allowed is 1024' },
  { name: 'withoutHeaders regex * means present', spec: vs(http({ match: [{ withoutHeaders: { 'x-a': { regex: '*' } } }] })), expect: 'valid' },
  { name: 'withoutHeaders bad regex', spec: vs(http({ match: [{ withoutHeaders: { 'x-a': { regex: '*a' } } }] })), expect: 'error', message: '"withoutHeaders"' },
  { name: 'header name with space', spec: vs(http({ match: [{ headers: { 'x a': { exact: 'b' } } }] })), expect: 'error', message: 'header name x a is not a valid header name' },
  { name: 'pseudo header match', spec: vs(http({ match: [{ headers: { ':method': { exact: 'GET' } } }] })), expect: 'valid' },
  { name: 'bad sourceNamespace', spec: vs(http({ match: [{ sourceNamespace: 'Foo_bar' }] })), expect: 'error', message: 'sourceNamespace match Foo_bar is invalid' },
  // JWT claim routing
  { name: 'JWT claim routing on the mesh', spec: vs(http({ match: [{ headers: { '@request.auth.claims.group': { exact: 'a' } } }] })), expect: 'error', message: 'JWT claim based routing (key: @request.auth.claims.group) is only supported for gateway, found no gateways: []' },
  { name: 'JWT claim routing in withoutHeaders on mesh+gateway', spec: vs(http({ match: [{ withoutHeaders: { '@request.auth.claims[a][b]': { exact: 'a' } } }] }), { gateways: ['mesh', 'ns/gw'] }), expect: 'error', message: 'found no gateways: [mesh ns/gw]' },
  { name: 'JWT claim routing on a gateway', spec: vs(http({ match: [{ headers: { '@request.auth.claims.group': { exact: 'a' } } }] }), { gateways: ['ns/gw'] }), expect: 'valid' },
  // Route actions
  { name: 'route and redirect', spec: vs(http({ redirect: { uri: '/x' } })), expect: 'error', message: 'HTTP route cannot contain both route and redirect' },
  { name: 'redirect and rewrite', spec: vs({ redirect: { uri: '/x' }, rewrite: { uri: '/y' } }), expect: 'error', message: 'HTTP route rule cannot contain both rewrite and redirect' },
  { name: 'direct response and route', spec: vs(http({ directResponse: { status: 200 } })), expect: 'error', message: 'HTTP route cannot contain both route and direct_response' },
  { name: 'no action', spec: vs({ match: [{ uri: { prefix: '/' } }] }), expect: 'error', message: 'HTTP route, redirect or direct_response is required' },
  { name: 'empty redirect', spec: vs({ redirect: {} }), expect: 'error', message: 'redirect must specify URI, authority, scheme, or port' },
  { name: 'redirect prefixRewrite is known', spec: vs({ match: [{ uri: { prefix: '/old' } }], redirect: { prefixRewrite: '/new' } }), expect: 'valid' },
  { name: 'redirect code 3xx', spec: vs({ redirect: { uri: '/x', redirectCode: 304 } }), expect: 'valid' },
  { name: 'redirect code 200', spec: vs({ redirect: { uri: '/x', redirectCode: 200 } }), expect: 'error', message: '200 is not a valid redirect code, must be 3xx' },
  { name: 'redirect scheme', spec: vs({ redirect: { scheme: 'ftp' } }), expect: 'error', message: 'invalid redirect scheme, must be "http" or "https"' },
  { name: 'direct response 600 passes as in Istio', spec: vs({ directResponse: { status: 600 } }), expect: 'valid' },
  { name: 'direct response 199', spec: vs({ directResponse: { status: 199 } }), expect: 'error', message: 'HTTP status 199 is not in range 200-599' },
  { name: 'empty rewrite', spec: vs(http({ rewrite: {} })), expect: 'error', message: 'rewrite must specify at least one of URI, UriRegexRewrite, or authority' },
  { name: 'uriRegexRewrite without rewrite', spec: vs(http({ rewrite: { uriRegexRewrite: { match: 'a' } } })), expect: 'error', message: 'UriRegexRewrite requires both Rewrite and Match fields to be specified' },
  // Mirrors
  { name: 'deprecated mirrorPercent', spec: vs(http({ mirror: { host: 'm.bar' }, mirrorPercent: 50 })), expect: 'warning', message: 'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead' },
  { name: 'mirrorPercent over 100', spec: vs(http({ mirror: { host: 'm.bar' }, mirrorPercent: 101 })), expect: 'error', message: 'mirror_percent must have a max value of 100 (it has 101)' },
  { name: 'mirrorPercentage negative', spec: vs(http({ mirror: { host: 'm.bar' }, mirrorPercentage: { value: -1 } })), expect: 'error', message: 'mirror_percentage must have a min value of 0 (it has -1.000000)' },
  { name: 'mirror and mirrors', spec: vs(http({ mirror: { host: 'm.bar' }, mirrors: [{ destination: { host: 'm.bar' } }] })), expect: 'error', message: 'HTTP route cannot contain both mirror and mirrors' },
  // Retries, faults, CORS, destinations
  { name: 'retryOn with spaces is refused as in Istio', spec: vs(http({ retries: { attempts: 2, retryOn: '5xx, reset' } })), expect: 'error', message: '" reset" is not a valid retryOn policy' },
  { name: 'retryOn status code', spec: vs(http({ retries: { attempts: 2, retryOn: '5xx,503,reset' } })), expect: 'valid' },
  { name: 'retryOn unknown status code', spec: vs(http({ retries: { attempts: 2, retryOn: '599' } })), expect: 'error', message: '"599" is not a valid retryOn policy' },
  { name: 'retry disabled but retryRemoteLocalities', spec: vs(http({ retries: { attempts: 0, retryRemoteLocalities: true } })), expect: 'error', message: 'http retry policy configured when attempts are set to 0 (disabled)' },
  { name: 'fault without delay or abort', spec: vs(http({ fault: {} })), expect: 'error', message: 'HTTP fault injection must have an abort and/or a delay' },
  { name: 'abort without error type', spec: vs(http({ fault: { abort: { percentage: { value: 10 } } } })), expect: 'warning', message: 'abort configured, but error type not set' },
  { name: 'abort grpc status', spec: vs(http({ fault: { abort: { grpcStatus: 'UNAVAILABLE' } } })), expect: 'valid' },
  { name: 'abort bad grpc status', spec: vs(http({ fault: { abort: { grpcStatus: 'NOPE' } } })), expect: 'error', message: 'gRPC status "NOPE" is not supported' },
  { name: 'tiny fault percentage', spec: vs(http({ fault: { delay: { fixedDelay: '1s', percentage: { value: 0.00001 } } } })), expect: 'error', message: 'is neither 0.0, nor in range [0.0001, 100.0]' },
  { name: 'CORS bad method', spec: vs(http({ corsPolicy: { allowMethods: ['get'] } })), expect: 'error', message: '"get" is not a supported HTTP method' },
  { name: 'CORS maxAge sub-second', spec: vs(http({ corsPolicy: { maxAge: '1500ms' } })), expect: 'error', message: 'max_age duration is accurate only to seconds precision' },
  { name: 'CORS empty origin', spec: vs(http({ corsPolicy: { allowOrigins: [{ exact: '' }] } })), expect: 'error', message: 'is not a valid match type for CORS allow origins' },
  { name: 'bad subset name', spec: vs({ route: [{ destination: { host: 'foo.bar', subset: 'V_1' } }] }), expect: 'error', message: 'subset name is invalid: V_1' },
  { name: 'negative weight', spec: vs({ route: [{ destination: { host: 'a.bar' }, weight: -1 }, { destination: { host: 'b.bar' }, weight: 1 }] }), expect: 'error', message: 'weight -1 < 0' },
  // exportTo
  { name: 'exportTo ~ is for ServiceEntries only', spec: vs(http(), { exportTo: ['~'] }), expect: 'error', message: 'exportTo ~ (none) is not allowed for Istio configuration objects' },
  { name: 'exportTo . and own namespace', spec: vs(http(), { exportTo: ['ns', '.'] }), expect: 'error', message: 'duplicate entries in exportTo: . and current namespace ns' },
  { name: 'exportTo namespaces', spec: vs(http(), { exportTo: ['.', 'other'] }), expect: 'valid' },
  // TLS and TCP routes
  { name: 'TLS route', spec: { hosts: ['foo.bar'], tls: [{ match: [{ sniHosts: ['foo.bar'] }], route: dest() }] }, expect: 'valid' },
  { name: 'TLS route without match', spec: { hosts: ['foo.bar'], tls: [{ route: dest() }] }, expect: 'error', message: 'TLS route must have at least one match condition' },
  { name: 'TLS match without SNI', spec: { hosts: ['foo.bar'], tls: [{ match: [{ port: 443 }], route: dest() }] }, expect: 'error', message: 'TLS match must have at least one SNI host' },
  { name: 'SNI outside the hosts', spec: { hosts: ['foo.bar'], tls: [{ match: [{ sniHosts: ['other.bar'] }], route: dest() }] }, expect: 'error', message: 'SNI host "other.bar" is not a compatible subset of any of the virtual service hosts: [foo.bar]' },
  { name: 'SNI under a wildcard host', spec: { hosts: ['*.bar'], tls: [{ match: [{ sniHosts: ['a.bar', '*.x.bar'] }], route: dest() }] }, expect: 'valid' },
  { name: 'bad SNI wildcard', spec: { hosts: ['*.bar'], tls: [{ match: [{ sniHosts: ['a.*.bar'] }], route: dest() }] }, expect: 'error', message: 'domain name "a.*.bar" invalid (label "*" invalid)' },
  { name: 'IP as SNI host warns', spec: { hosts: ['*'], gateways: ['ns/gw'], tls: [{ match: [{ sniHosts: ['1.1.1.1'] }], route: dest() }] }, expect: 'warning', message: 'using an IP address ("1.1.1.1") goes against SNI spec and most clients do not support this' },
  { name: 'SNI with underscores on a gateway', spec: { hosts: ['*'], gateways: ['ns/gw'], tls: [{ match: [{ sniHosts: ['outbound_.80_._.e2e.foobar.mesh'] }], route: dest() }] }, expect: 'valid' },
  { name: 'SNI with underscores needs outbound_ form', spec: { hosts: ['*'], gateways: ['ns/gw'], tls: [{ match: [{ sniHosts: ['outbound_.http_._.e2e.foobar.mesh'] }], route: dest() }] }, expect: 'error', message: 'should follow outbound_.<port>_._.<hostname> format' },
  { name: 'SNI with underscores on the mesh', spec: { hosts: ['*.mesh'], tls: [{ match: [{ sniHosts: ['outbound_.80_._.e2e.foobar.mesh'] }], route: dest() }] }, expect: 'error', message: 'invalid (label "outbound_" invalid)' },
  { name: 'TCP route without route', spec: { hosts: ['foo.bar'], tcp: [{ match: [{ port: 9000 }] }] }, expect: 'error', message: 'TCP route is required' },
  { name: 'TCP bad subnet', spec: { hosts: ['foo.bar'], tcp: [{ match: [{ destinationSubnets: ['10.0.0.0/33'] }], route: dest() }] }, expect: 'error', message: 'is not a valid CIDR block' },
];

for (const c of cases) test(`VirtualService: ${c.name}`, () => checkCase('VirtualService', c));
