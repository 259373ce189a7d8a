// Runs one resource through parse + validation and reduces the result to Istio's three outcomes, so
// tables ported from Istio's validation_test.go / virtualservice_test.go read like theirs:
// {name, spec, valid | warning | error}.
import assert from 'node:assert/strict';
import { validateResource } from '../../src/config/kinds/index.ts';
import { parseDocuments } from '../../src/config/parse.ts';
import type { Diagnostic } from '../../src/model/diagnostic.ts';

export type Outcome = 'valid' | 'warning' | 'error';

export interface IstioCase {
  readonly name: string;
  readonly spec: unknown;
  readonly expect: Outcome;
  /** A substring of one diagnostic's message (Istio's wording). */
  readonly message?: string;
  readonly annotations?: Record<string, string>;
}

export const API: Record<string, string> = {
  VirtualService: 'networking.istio.io/v1',
  DestinationRule: 'networking.istio.io/v1',
  ServiceEntry: 'networking.istio.io/v1',
  AuthorizationPolicy: 'security.istio.io/v1',
  RequestAuthentication: 'security.istio.io/v1',
};

export function validateSpec(kind: string, spec: unknown, annotations: Record<string, string> = {}): Diagnostic[] {
  const doc = { apiVersion: API[kind], kind, metadata: { name: 'case', namespace: 'ns', annotations }, spec };
  const parsed = parseDocuments(JSON.stringify(doc), 'case.json');
  assert.equal(parsed.resources.length, 1, JSON.stringify(parsed.diagnostics));
  return [...parsed.diagnostics, ...validateResource(parsed.resources[0]).diagnostics];
}

export function outcomeOf(found: readonly Diagnostic[]): Outcome {
  if (found.some((d) => d.level === 'error')) return 'error';
  return found.some((d) => d.level === 'warning') ? 'warning' : 'valid';
}

export function checkCase(kind: string, c: IstioCase): void {
  const found = validateSpec(kind, c.spec, c.annotations);
  const shown = JSON.stringify(found.map((d) => `${d.level} ${d.path}: ${d.message}`));
  assert.equal(outcomeOf(found), c.expect, `${c.name}: ${shown}`);
  if (c.message) assert.ok(found.some((d) => d.message.includes(c.message!)), `${c.name}: no message with ${JSON.stringify(c.message)} in ${shown}`);
}
