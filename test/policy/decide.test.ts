// Table-driven AuthorizationPolicy tests: every file in test/fixtures/policy/ (except base.yaml)
// holds cases of {policies, calls: [{request, expect}]}; base.yaml (waypoint + ServiceEntries) is
// prepended. Each call asserts allow, Envoy's details string and a reason substring.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { compile } from '../../src/compile/compile.ts';
import { validateResource } from '../../src/config/kinds/index.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import { formatDiagnostic } from '../../src/model/diagnostic.ts';
import { decide } from '../../src/policy/decide.ts';
import type { AuthzRequest } from '../../src/policy/decide.ts';

const DIR = new URL('../fixtures/policy/', import.meta.url);
const BASE = readFileSync(new URL('base.yaml', DIR), 'utf8');

interface Expect {
  allow: boolean;
  details?: string;
  reason?: string;
  audit?: boolean;
  custom?: string[];
  dryRunWouldDeny?: boolean;
  dryRunDetails?: string;
  warnings?: string[];
}

interface Call {
  name?: string;
  service?: string | null;
  request: Partial<AuthzRequest>;
  expect: Expect;
}

interface Case {
  name: string;
  policies: string;
  rootNamespace?: string;
  warnings?: string[];
  calls: Call[];
}

const DEFAULT_REQUEST: AuthzRequest = {
  protocol: 'http', sourceIp: '10.0.0.5', host: 'api.example.com', method: 'GET', path: '/', headers: {}, destinationPort: 80,
};

for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'base.yaml' && f !== 'validation.yaml')) {
  const doc = parse(readFileSync(new URL(file, DIR), 'utf8')) as { cases: Case[] };
  describe(`policy/${file}`, () => {
    for (const c of doc.cases) {
      test(c.name, () => {
        const yaml = c.policies ? `${BASE}---\n${c.policies}` : BASE;
        const parsed = parseDocuments(yaml, file);
        const validated = [...parsed.diagnostics, ...parsed.resources.flatMap((r) => validateResource(r).diagnostics)];
        const errors = validated.filter((d) => d.level === 'error');
        assert.deepEqual(errors.map(formatDiagnostic), []);
        const out = compile(parsed.resources, { rootNamespace: c.rootNamespace });
        assert.ok(out.snapshot, out.diagnostics.map(formatDiagnostic).join('\n'));
        if (c.warnings) {
          const warnings = [...validated, ...out.diagnostics].filter((d) => d.level === 'warning').map(formatDiagnostic);
          for (const w of c.warnings) assert.ok(warnings.some((x) => x.includes(w)), `no warning containing ${JSON.stringify(w)} in:\n${warnings.join('\n')}`);
        }
        c.calls.forEach((call, i) => {
          const service = call.service === null ? undefined : call.service ?? 'istio-egress/api';
          const d = decide(out.snapshot!.authz, service, { ...DEFAULT_REQUEST, ...call.request } as AuthzRequest);
          const label = `call ${i}${call.name ? ` (${call.name})` : ''}: ${JSON.stringify(call.request)} -> ${d.reason}\n${JSON.stringify(d.trace, null, 1)}`;
          assert.equal(d.allow, call.expect.allow, label);
          if (call.expect.details !== undefined) assert.equal(d.details, call.expect.details, label);
          if (call.expect.reason !== undefined) assert.ok(d.reason.includes(call.expect.reason), `${label}\nreason lacks ${JSON.stringify(call.expect.reason)}`);
          if (call.expect.audit !== undefined) assert.equal(d.audit ?? false, call.expect.audit, label);
          if (call.expect.custom !== undefined) assert.deepEqual(d.customProviders.map((p) => p.provider), call.expect.custom, label);
          if (call.expect.dryRunWouldDeny !== undefined) assert.equal(d.dryRun?.wouldDeny, call.expect.dryRunWouldDeny, label);
          if (call.expect.dryRunDetails !== undefined) assert.equal(d.dryRun?.details, call.expect.dryRunDetails, label);
        });
      });
    }
  });
}
