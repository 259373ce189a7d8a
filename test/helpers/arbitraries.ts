// fast-check arbitraries shared by the property tests (test/fuzz/) and bench/fuzz.ts. Each one mixes
// pieces that matter to the code under test (dot segments, percent escapes, wildcards, colons) with
// fully arbitrary text, so that both the interesting corners and the unexpected get drawn.
import fc from 'fast-check';

/** Strings made of whole tokens from `tokens` (each token is one draw). */
export function tokens(list: readonly string[], maxLength = 12): fc.Arbitrary<string> {
  return fc.array(fc.constantFrom(...list), { maxLength }).map((t) => t.join(''));
}

/** Mostly `interesting`, sometimes any UTF-16 text (lone surrogates included). */
export function mixed(interesting: fc.Arbitrary<string>, maxLength = 24): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: interesting },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength }) },
  );
}

// ---- authorities ------------------------------------------------------------------------------

const HOST_TOKENS = [
  'a', 'b', 'Z', 'x-y', '_', '.', '..', '0', '1', '9', '127', ':', '::', '[', ']', '@', '/', '?', '#', ' ', '%',
  '80', '443', '65535', '65536', '0', '00080', 'ffff', 'FE80', 'g', '\u212a' /* KELVIN SIGN, lower-cases to k */,
  '\u0130' /* I WITH DOT, lower-cases to two chars */, '\u00e9', '\t', '+', '-',
];

export const authorityText: fc.Arbitrary<string> = mixed(tokens(HOST_TOKENS, 10));

/** A host as parseAuthority returns it: lower-case reg-name or IPv6 text, never empty. */
export const hostName: fc.Arbitrary<string> = fc.oneof(
  tokens(['a', 'b', 'z', '0', '9', '-', '_', '.', 'example', 'com'], 6).filter((h) => h.length > 0),
  tokens(['0', '1', 'a', 'f', ':', '::', '.', '1.2.3.4'], 6).filter((h) => h.includes(':')),
);

export const port: fc.Arbitrary<number> = fc.integer({ min: 1, max: 65535 });

// ---- paths ----------------------------------------------------------------------------------------

const PATH_TOKENS = [
  '/', '/', '/', '.', '..', 'a', 'b', 'admin', '%2e', '%2E', '%2f', '%2F', '%5c', '%5C', '\\', '%', '%25', '%41', '%61',
  '%7e', '%7E', '%00', '%0', '%zz', '%%', '%3', '%32', '%65', '%2', '?', '#', '&', '=', '~', '-', '_', '%3f', '%20', ';',
  '\u00e9', '%C3%A9', '*', '{', '}',
];

export const rawPath: fc.Arbitrary<string> = mixed(tokens(PATH_TOKENS, 16), 32);

/** A clean absolute path of unreserved segments, as a policy would name it (`/admin/x-1`). */
export const cleanPath: fc.Arbitrary<string> = fc.array(fc.stringMatching(/^[A-Za-z0-9._~-]{1,6}$/).filter((s) => s !== '.' && s !== '..'), { minLength: 1, maxLength: 4 })
  .map((segs) => `/${segs.join('/')}`);

/**
 * The same path as a client might dress it up: unreserved characters percent-encoded (either hex
 * case), `\` for `/`, and `/.` or `/seg/..` or `/%2e%2E/` detours between segments. Every form
 * normalises (BASE) to the clean path.
 */
export function disguisedPath(clean: string): fc.Arbitrary<string> {
  const segs = clean.split('/').slice(1);
  const encode = (ch: string, how: number) => (how === 0 ? ch : `%${ch.charCodeAt(0).toString(16)[how === 1 ? 'toUpperCase' : 'toLowerCase']().padStart(2, '0')}`);
  const detour = fc.constantFrom('', '', '/.', '/./.', '/zz/..', '/%2e', '/%2E', '/q/%2e%2e', '/q/.%2E', '/q/w/../..');
  return fc.tuple(
    fc.array(fc.tuple(detour, fc.constantFrom('/', '/', '\\'), fc.array(fc.nat(2), { minLength: 8, maxLength: 8 })), { minLength: segs.length, maxLength: segs.length }),
  ).map(([parts]) => segs.map((seg, i) => {
    const [before, slash, how] = parts[i];
    return `${before}${slash}${[...seg].map((ch, j) => encode(ch, how[j % how.length])).join('')}`;
  }).join(''));
}

// ---- headers ----------------------------------------------------------------------------------------

const HEADER_NAMES = [
  'host', 'Host', 'connection', 'Connection', 'upgrade', 'keep-alive', 'te', 'transfer-encoding', 'Transfer-Encoding',
  'proxy-authorization', 'x-request-id', 'X-Request-Id', 'traceparent', 'tracestate', 'user-agent', 'x-forwarded-for',
  'content-length', 'x-a', 'X-A', 'x-b', 'x-c', ':path', 'expect', 'trailer', 'cookie',
];

export const headerName: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HEADER_NAMES) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/) },
);

export const headerValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', 'close', 'keep-alive', 'Upgrade', 'x-a, x-b', 'X-C', 'chunked', 'gzip, chunked', '12', 'abc',
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x-a,x-a', ' te , upgrade ', 'trailers', 'deflate, Trailers;q=1'),
  fc.string({ maxLength: 16 }),
);

/** Node's rawHeaders: [name, value, name, value, ...]. */
export const rawHeaders: fc.Arbitrary<string[]> = fc.array(fc.tuple(headerName, headerValue), { maxLength: 10 }).map((p) => p.flat());

const opsName: fc.Arbitrary<string> = fc.constantFrom('x-a', 'x-b', 'x-c', 'x-request-id', 'cookie', 'host');
const opsPair = fc.tuple(opsName, fc.string({ maxLength: 6 }));

/** HeaderOps as compile builds them (names lower-case). */
export const headerOps = fc.record({
  set: fc.array(opsPair, { maxLength: 4 }),
  add: fc.array(opsPair, { maxLength: 4 }),
  remove: fc.array(opsName, { maxLength: 3 }),
});

// ---- route matching ---------------------------------------------------------------------------

/** VirtualService StringMatch wire values, regexes included (some invalid, some not RE2). */
export const wireStringMatch = fc.oneof(
  fc.record({ exact: tokens(['/', 'a', 'b', 'A', 'GET', 'x', '.', '*'], 5) }),
  fc.record({ prefix: tokens(['/', 'a', 'b', 'A', 'G', 'x', '*'], 4) }),
  fc.record({ regex: fc.constantFrom('.*', '/a.*', '[ab]+', 'GET|POST', '(', '*', '(?=a)', '\\1', 'a{2,}', '/[^/]+/b', '') }),
  fc.constant({}),
);

export const routePath: fc.Arbitrary<string> = tokens(['/', 'a', 'b', 'A', 'x', '.', '?', '&', '=', 'k', 'v', '%2F'], 10)
  .map((p) => (p.startsWith('/') ? p : `/${p}`));

// ---- authorization ------------------------------------------------------------------------------

const PRINCIPALS = ['cluster.local/ns/shop/sa/cart', 'cluster.local/ns/shop/sa/pay', 'td/ns/a/sa/b', 'x', ''];
const POLICY_STRING = ['*', 'a*', '*a', 'a', '/admin', '/admin*', '*/x', '/a/{*}', '/a/{**}', '/{*}/b', 'GET', 'POST', 'DELETE',
  'api.example.com', '*.example.com', 'API.example.com', 'shop', 'cart', 'cluster.local/ns/shop/sa/cart', 'shop/cart', 'cluster.local',
  '10.0.0.0/8', '10.0.0.5', '::1', '192.168.0.0/16', 'not-an-ip', '80', '443', 'iss/sub', '*/sub', 'iss/*', 'iss', ''];
const policyValues = fc.array(mixed(fc.constantFrom(...POLICY_STRING), 8), { minLength: 1, maxLength: 3 });
const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const sourceSpec = fc.record({
  principals: policyValues, notPrincipals: policyValues, requestPrincipals: policyValues, namespaces: policyValues,
  notNamespaces: policyValues, serviceAccounts: policyValues, ipBlocks: policyValues, notIpBlocks: policyValues,
  remoteIpBlocks: policyValues, trustDomains: policyValues,
}, { requiredKeys: [] });

const operationSpec = fc.record({
  hosts: policyValues, notHosts: policyValues, ports: policyValues, notPorts: policyValues,
  methods: policyValues, notMethods: policyValues, paths: policyValues, notPaths: policyValues,
}, { requiredKeys: [] });

const CONDITION_KEYS = ['request.headers[x-a]', 'request.headers[X-B]', 'source.ip', 'remote.ip', 'destination.ip', 'destination.port',
  'source.namespace', 'source.principal', 'connection.sni', 'request.auth.principal', 'request.auth.audiences',
  'request.auth.claims[groups]', 'request.auth.claims[a][b]', 'experimental.envoy.filters.x'];
const conditionSpec = fc.record({ key: fc.constantFrom(...CONDITION_KEYS), values: policyValues, notValues: policyValues }, { requiredKeys: ['key'] });

export const ruleSpec = fc.record({
  from: fc.array(fc.record({ source: sourceSpec }, { requiredKeys: [] }), { maxLength: 2 }),
  to: fc.array(fc.record({ operation: operationSpec }, { requiredKeys: [] }), { maxLength: 2 }),
  when: fc.array(conditionSpec, { maxLength: 2 }),
}, { requiredKeys: [] });

export const policyAction = fc.constantFrom('ALLOW', 'DENY', 'AUDIT', 'CUSTOM');

export const policySpec = fc.record({
  action: policyAction,
  rules: optional(fc.array(ruleSpec, { maxLength: 3 })),
  provider: fc.constantFrom(undefined, { name: 'ext' }),
  dryRun: fc.boolean().map((b) => (b ? 'true' : undefined)),
});

export const authzRequest = fc.record({
  protocol: fc.constantFrom('http', 'http', 'tcp'),
  sourceIp: optional(fc.constantFrom('10.0.0.5', '192.168.1.1', '::1', '::ffff:10.0.0.5', 'bogus', '')),
  remoteIp: optional(fc.constantFrom('10.0.0.5', '8.8.8.8', 'x')),
  principal: optional(fc.constantFrom(...PRINCIPALS)),
  requestPrincipal: optional(fc.constantFrom('iss/sub', 'a/b', '')),
  claims: optional(fc.record({
    iss: fc.constantFrom('iss', 'a', 1), sub: fc.constantFrom('sub', 'b', null),
    aud: fc.constantFrom('x', ['x', 'y'], [1]), groups: fc.constantFrom('g', ['a', 'b'], {}), a: fc.constantFrom({ b: 'x' }, 'y', null),
  }, { requiredKeys: [] })),
  host: optional(mixed(fc.constantFrom('api.example.com', 'API.Example.com:80', 'x.example.com', 'a', ''), 8)),
  method: optional(mixed(fc.constantFrom('GET', 'POST', 'DELETE', 'get'), 6)),
  path: optional(rawPath),
  headers: optional(fc.dictionary(fc.constantFrom('x-a', 'x-b', 'host'), fc.constantFrom('a', 'a*', '', 'b'))),
  sni: optional(fc.constantFrom('api.example.com', '')),
  destinationIp: optional(fc.constantFrom('10.1.2.3', '::1', 'x')),
  destinationPort: optional(fc.constantFrom(80, 443, 8080, 0)),
}, { requiredKeys: ['protocol'] });

// ---- config documents -------------------------------------------------------------------------------

/** JSON-ish values: what a YAML document can turn into, deep and odd keys included. */
export const jsonish: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, -1, 1.5, 80, 65536, '', '*', 'a', '0.0.0.0/0', 'ALLOW', 'DNS', 'http', '1s', 'x/y'),
    fc.string({ maxLength: 8 }),
    fc.double(),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('name', 'port', 'number', 'hosts', 'match', 'route', 'rules', 'to', 'from', 'spec', 'items',
      'kind', 'apiVersion', 'metadata', 'targetRefs', 'ports', 'protocol', 'resolution', 'uri', 'prefix', '__proto__', 'constructor', 'toString'),
    tie('v'), { maxKeys: 4 }),
  ),
})).v;

const KINDS = [
  ['networking.istio.io/v1', 'ServiceEntry'], ['security.istio.io/v1', 'AuthorizationPolicy'], ['networking.istio.io/v1', 'VirtualService'],
  ['networking.istio.io/v1', 'DestinationRule'], ['gateway.networking.k8s.io/v1', 'HTTPRoute'], ['gateway.networking.k8s.io/v1', 'Gateway'],
  ['gateway.networking.k8s.io/v1', 'GatewayClass'], ['security.istio.io/v1', 'RequestAuthentication'], ['v1', 'Namespace'], ['v1', 'List'],
] as const;

/** Documents with a known kind and any spec: they reach the kind validators (and compile when valid). */
export const resourceish: fc.Arbitrary<unknown> = fc.record({
  kind: fc.constantFrom(...KINDS),
  name: fc.constantFrom('a', 'waypoint', 'b'),
  namespace: fc.constantFrom(undefined, 'default', 'egress'),
  spec: jsonish,
  items: fc.array(jsonish, { maxLength: 2 }),
}).map(({ kind, name, namespace, spec, items }) => ({
  apiVersion: kind[0], kind: kind[1], metadata: { name, ...(namespace ? { namespace } : {}) }, spec, ...(kind[1] === 'List' ? { items } : {}),
}));

const YAML_TOKENS = [
  '\n', '\n', ' ', '  ', '- ', ': ', ':', '---\n', '...\n', '#', '&a ', '*a', '<<: *a\n', '!!str ', '!!binary ', '!tag ', '|', '>',
  '"', "'", '[', ']', '{', '}', ',', '?', '%YAML 1.2\n', 'kind: ServiceEntry\n', 'apiVersion: networking.istio.io/v1\n',
  'metadata:\n  name: a\n', 'spec:\n', '  hosts: [a.com]\n', '  ports:\n  - number: 80\n    name: http\n    protocol: HTTP\n', 'null',
  '~', 'true', '1e9', '0x1F', '-.inf', '\t', '\r', '\uFEFF', 'a',
];

/** YAML-ish text: the loader must turn any of it into resources or diagnostics. */
export const yamlText: fc.Arbitrary<string> = mixed(tokens(YAML_TOKENS, 30), 64);
