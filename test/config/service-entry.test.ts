// Every ServiceEntry rule of the reference spec §6.1, one failing and one near-miss passing
// document each (fixtures test/fixtures/config/service-entry/*.yaml: `bad-*` and `ok-*`).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocuments } from '../../src/config/parse.ts';
import { validateServiceEntry } from '../../src/config/kinds/service-entry.ts';
import { assertDiagnostics, assertNearMisses, loadFixture, messageOf } from './fixtures.ts';

interface Case {
  readonly fixture: string;
  readonly expect: readonly string[];
  /** Exact messages (Istio's wording) for some of the lines above. */
  readonly messages?: Readonly<Record<string, string>>;
}

const E = 'IST0106 error';
const W = 'IST0133 warning';

const cases: Record<string, Case> = {
  'hosts: required, no bare *, wildcard only leading, partial wildcard warns': {
    fixture: 'service-entry/hosts.yaml',
    expect: [
      `bad-no-hosts ${E} spec.hosts @6`,
      `bad-star ${E} spec.hosts[0] @22`,
      `bad-inner-wildcard ${E} spec.hosts[1] @38`,
      `bad-inner-wildcard ${E} spec.hosts[2] @39`,
      `bad-partial-wildcard ${W} spec.hosts[0] @46`,
    ],
    messages: {
      [`bad-no-hosts ${E} spec.hosts @6`]: 'service entry must have at least one host',
      [`bad-star ${E} spec.hosts[0] @22`]: 'invalid host *',
      [`bad-inner-wildcard ${E} spec.hosts[1] @38`]: 'domain name "api.*.com" invalid (label "*" invalid)',
    },
  },
  'workloadSelector: exclusive with endpoints, no wildcards, warned under NONE': {
    fixture: 'service-entry/selector.yaml',
    expect: [
      `bad-selector-and-endpoints ${E} spec.endpoints @12`,
      `bad-selector-wildcard ${E} spec.workloadSelector.labels.app @34`,
      `bad-none-with-selector ${W} spec.workloadSelector @43`,
    ],
    messages: { [`bad-selector-and-endpoints ${E} spec.endpoints @12`]: 'only one of WorkloadSelector or Endpoints is allowed in Service Entry' },
  },
  'addresses: IP or CIDR, CIDR only with NONE/STATIC': {
    fixture: 'service-entry/addresses.yaml',
    expect: [
      `bad-addresses ${E} spec.addresses[1] @9`,
      `bad-addresses ${E} spec.addresses[2] @10`,
      `bad-addresses ${E} spec.addresses[3] @11`,
      `bad-cidr-with-dns ${E} spec.addresses[1] @27`,
    ],
    messages: { [`bad-cidr-with-dns ${E} spec.addresses[1] @27`]: 'CIDR addresses are allowed only for NONE/STATIC resolution types' },
  },
  'ports: range, unique numbers and names, DNS-label names, protocols, targetPort': {
    fixture: 'service-entry/ports.yaml',
    expect: [
      `bad-ports ${E} spec.ports[0].number @9`,
      `bad-ports ${E} spec.ports[1].number @12`,
      `bad-ports ${E} spec.ports[1].name @13`,
      `bad-ports ${E} spec.ports[2].name @16`,
      `bad-ports ${E} spec.ports[3].number @18`,
      `bad-ports ${E} spec.ports[3].protocol @20`,
      `bad-ports ${E} spec.ports[3].targetPort @21`,
    ],
    messages: {
      [`bad-ports ${E} spec.ports[0].number @9`]: 'port number 0 must be in the range 1..65535',
      [`bad-ports ${E} spec.ports[1].name @13`]: 'service entry port name "http" already defined',
      [`bad-ports ${E} spec.ports[2].name @16`]: 'invalid port name: HTTPS_1',
      [`bad-ports ${E} spec.ports[3].number @18`]: 'service entry port 443 already defined',
      [`bad-ports ${E} spec.ports[3].protocol @20`]: 'unsupported protocol: HTTPX',
    },
  },
  'NONE: no endpoints': {
    fixture: 'service-entry/resolution-none.yaml',
    expect: [`bad-none-endpoints ${E} spec.endpoints @8`],
    messages: { [`bad-none-endpoints ${E} spec.endpoints @8`]: 'no endpoints should be provided for resolution type none' },
  },
  'STATIC: IP endpoints, declared port names, unix sockets': {
    fixture: 'service-entry/static.yaml',
    expect: [
      `bad-static-endpoints ${E} spec.endpoints[0].address @12`,
      `bad-static-endpoints ${E} spec.endpoints[1].ports.htp @15`,
      `bad-static-endpoints ${E} spec.endpoints[2].address @16`,
      `bad-unix ${E} spec.endpoints[0].address @43`,
      `bad-unix ${E} spec.endpoints[0].ports @44`,
      `bad-unix ${E} spec.ports @38`,
      `bad-network-only ${W} spec.endpoints[0] @67`,
    ],
    messages: {
      [`bad-static-endpoints ${E} spec.endpoints[0].address @12`]: 'db.example.com is not a valid IP',
      [`bad-network-only ${W} spec.endpoints[0] @67`]: 'address is unset with network "remote-net"',
      [`bad-unix ${E} spec.ports @38`]: 'exactly 1 service port required for unix endpoints',
    },
  },
  'DNS/DNS_ROUND_ROBIN: FQDN hosts without endpoints, one RR endpoint, endpoint addresses': {
    fixture: 'service-entry/dns.yaml',
    expect: [
      `bad-dns-wildcard ${E} spec.hosts[1] @7`,
      `bad-dns-rr-wildcard ${E} spec.hosts[0] @24`,
      `bad-dns-rr-endpoints ${E} spec.endpoints[1] @37`,
      `bad-dns-endpoints ${E} spec.endpoints[0].address @57`,
      `bad-dns-endpoints ${E} spec.endpoints[0].ports.http @58`,
      `bad-dns-endpoints ${E} spec.endpoints[1].address @59`,
    ],
    messages: {
      [`bad-dns-wildcard ${E} spec.hosts[1] @7`]: 'hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode DNS',
      [`bad-dns-rr-wildcard ${E} spec.hosts[0] @24`]: 'hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode DNS_ROUND_ROBIN',
      [`bad-dns-rr-endpoints ${E} spec.endpoints[1] @37`]: 'DNS_ROUND_ROBIN mode cannot have multiple endpoints',
      [`bad-dns-endpoints ${E} spec.endpoints[0].address @57`]: 'endpoint address "*.example.com" is not a valid FQDN or an IP address',
    },
  },
  'resolution != NONE with several hosts: HTTP or TLS ports only': {
    fixture: 'service-entry/multiple-hosts.yaml',
    expect: [`bad-multi-host-tcp ${E} spec.ports[1].protocol @9`],
    messages: { [`bad-multi-host-tcp ${E} spec.ports[1].protocol @9`]: 'multiple hosts provided with non-HTTP, non-TLS ports' },
  },
  'exportTo: valid values, no duplicates, * and ~ alone': {
    fixture: 'service-entry/export-to.yaml',
    expect: [
      `bad-export-to ${E} spec.exportTo[1] @8`,
      `bad-export-to ${E} spec.exportTo[2] @8`,
      `bad-export-to ${E} spec.exportTo[4] @8`,
      `bad-export-public-and-more ${E} spec.exportTo @16`,
      `bad-export-none-and-more ${E} spec.exportTo @24`,
    ],
    messages: {
      [`bad-export-public-and-more ${E} spec.exportTo @16`]: 'cannot have both public (*) and non-public exportTo values for a resource',
      [`bad-export-none-and-more ${E} spec.exportTo @24`]: 'cannot export service entry to no one (~) and someone',
    },
  },
  'warnings: addresses required for TCP (IST0134), shared address with several DNS hosts': {
    fixture: 'service-entry/warnings.yaml',
    expect: [
      'bad-tcp-no-address IST0134 warning spec.ports[0] @9',
      'bad-tcp-no-address IST0134 warning spec.ports[1] @10',
      'bad-autoallocate-off IST0134 warning spec.ports[0] @24',
      `bad-shared-address ${W} spec.addresses @51`,
    ],
    messages: {
      'bad-tcp-no-address IST0134 warning spec.ports[0] @9':
        'addresses are required for ports serving TCP (or unset) protocol: port 5432 is TCP, and the entry has no addresses and gets no auto-allocated VIP',
      [`bad-shared-address ${W} spec.addresses @51`]: 'service entry can not have more than one host specified simultaneously with address and tcp port',
    },
  },
  'DYNAMIC_DNS: wildcard hosts, no addresses or endpoints, HTTP/TLS ports, no internal waypoint': {
    fixture: 'service-entry/dynamic-dns.yaml',
    expect: [
      `bad-dynamic-dns ${E} spec.hosts[1] @7`,
      `bad-dynamic-dns ${E} spec.hosts[2] @7`,
      `bad-dynamic-dns ${E} spec.addresses @8`,
      `bad-dynamic-dns ${E} spec.endpoints @14`,
      `bad-dynamic-dns ${E} spec.ports[1].protocol @11`,
      `bad-dynamic-dns ${E} spec.ports[1].protocol @11`,
      `bad-dynamic-dns ${E} spec.ports[2].protocol @12`,
      `bad-dynamic-dns-internal-waypoint ${E} spec.location @26`,
    ],
  },
  'enums: exact values with a suggestion': {
    fixture: 'service-entry/enums.yaml',
    expect: [`bad-enums ${E} spec.location @8`, `bad-enums ${E} spec.resolution @9`],
  },
};

for (const [rule, c] of Object.entries(cases)) {
  test(`ServiceEntry ${rule}`, async () => {
    const result = await loadFixture(c.fixture);
    assertDiagnostics(result.diagnostics, c.expect);
    assertNearMisses(c.fixture, result);
    for (const [line, message] of Object.entries(c.messages ?? {})) assert.equal(messageOf(result, line), message, line);
  });
}

test('ServiceEntry: more than 256 hosts', () => {
  const hosts = Array.from({ length: 257 }, (_, i) => `h${i}.example.com`).join(', ');
  const text = `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: many}\nspec:\n  hosts: [${hosts}]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n`;
  const [r] = parseDocuments(text, 'many.yaml').resources;
  const diags = validateServiceEntry(r);
  assert.deepEqual(diags.map((d) => [d.path, d.line, d.message]), [['spec.hosts', 5, 'too many hosts: 257 (max 256)']]);
});

test('ServiceEntry: a hint suggests the intended enum value and protocol', async () => {
  const result = await loadFixture('service-entry/enums.yaml');
  assert.equal(result.diagnostics.find((d) => d.path === 'spec.resolution')?.hint, 'did you mean "DNS"?');
  const ports = await loadFixture('service-entry/ports.yaml');
  assert.equal(ports.diagnostics.find((d) => d.path === 'spec.ports[3].protocol')?.hint, 'did you mean "HTTP"?');
});

test('ServiceEntry: IST0134 depends on istiod IP auto-allocation', async () => {
  const text = 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: db}\nspec:\n  hosts: [db.example.com]\n  ports: [{number: 5432, name: tcp, protocol: TCP}]\n  resolution: DNS\n';
  const [r] = parseDocuments(text, 'db.yaml').resources;
  assert.deepEqual(validateServiceEntry(r), []);
  assert.deepEqual(validateServiceEntry(r, { ipAutoAllocate: false }).map((d) => [d.code, d.path, d.line]), [['IST0134', 'spec.ports[0]', 6]]);
});
