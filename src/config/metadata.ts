// Kubernetes' common envelope. Parse normalises it (namespace default, string labels); validation
// checks names and label syntax the way the API server would, so a file that loads here applies there.
import { CODES } from '../model/codes.ts';
import type { Reporter } from './diag.ts';
import { checkLabelValue, checkQualifiedName, isDns1123Label, isDns1123Subdomain } from './names.ts';
import type { Metadata, Resource } from './resource.ts';
import { describe, isPlainObject, s } from './schema.ts';
import type { Issue } from './schema.ts';

// Fields kubectl/`get -o yaml` output carries; accepted so exported objects load without warnings.
export const metadataSchema = s.object({
  name: s.string(),
  namespace: s.string(),
  labels: s.map(s.any()),
  annotations: s.map(s.any()),
  creationTimestamp: s.any(),
  generateName: s.string(),
  uid: s.any(),
  resourceVersion: s.any(),
  generation: s.any(),
  selfLink: s.any(),
  deletionTimestamp: s.any(),
  deletionGracePeriodSeconds: s.any(),
  finalizers: s.any(),
  ownerReferences: s.any(),
  managedFields: s.any(),
});

/** `raw` is the document's `metadata` mapping and `name` already checked to be a non-empty string. */
export function normalizeMetadata(raw: Record<string, unknown>, clusterScoped: boolean, defaultNamespace = 'default'): { metadata: Metadata; issues: Issue[] } {
  const issues: Issue[] = [];
  const ns = typeof raw.namespace === 'string' && raw.namespace !== '' ? raw.namespace : defaultNamespace;
  const metadata: Metadata = {
    name: raw.name as string,
    // Cluster-scoped objects have no namespace; the API server ignores one if given.
    namespace: clusterScoped ? '' : ns,
    labels: stringMap(raw.labels, 'labels', issues),
    annotations: stringMap(raw.annotations, 'annotations', issues),
    ...(typeof raw.creationTimestamp === 'string' ? { creationTimestamp: raw.creationTimestamp } : {}),
  };
  return { metadata, issues };
}

// Kubernetes rejects non-string label values; YAML makes `true` and `8080` non-strings without
// quotes, which is the usual cause. We load the string form and say so.
function stringMap(value: unknown, field: 'labels' | 'annotations', issues: Issue[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isPlainObject(value)) return out;
  for (const [key, v] of Object.entries(value)) {
    const path = ['metadata', field, key];
    if (typeof v === 'string') out[key] = v;
    else if (v === null || typeof v === 'number' || typeof v === 'boolean') {
      const str = v === null ? '' : String(v);
      out[key] = str;
      issues.push({
        code: CODES.SchemaWarning.code,
        level: 'warning',
        path,
        message: `${field} values must be strings; ${describe(v)} was read as "${str}"`,
        hint: `quote the value: ${key}: "${str}"`,
      });
    } else {
      issues.push({
        code: CODES.SchemaValidationError.code,
        level: 'error',
        path,
        message: `${field} values must be strings, got ${describe(v)}`,
        hint: `use a plain string value for ${key}`,
      });
    }
  }
  return out;
}

/** Name and label syntax. Namespaces are DNS labels; other objects DNS subdomains. */
export function validateMetadata(r: Resource, report: Reporter): void {
  const { name, namespace, labels, annotations } = r.metadata;
  const isNamespace = r.kind === 'Namespace' && r.group === '';
  if (isNamespace ? !isDns1123Label(name) : !isDns1123Subdomain(name)) {
    const what = isNamespace ? 'RFC 1123 label' : 'RFC 1123 subdomain';
    report.error(['metadata', 'name'], `invalid name ${JSON.stringify(name)}: must be a lowercase ${what} (a-z, 0-9, '-'${isNamespace ? '' : ", '.'"}), starting and ending alphanumeric`, 'use lower-case letters, digits and dashes');
  }
  if (namespace !== '' && !isDns1123Label(namespace)) {
    report.error(['metadata', 'namespace'], `invalid namespace ${JSON.stringify(namespace)}: must be a lowercase RFC 1123 label`, 'use lower-case letters, digits and dashes, at most 63');
  }
  for (const [key, value] of Object.entries(labels)) {
    const problem = checkQualifiedName(key) ?? checkLabelValue(value);
    if (problem) report.error(['metadata', 'labels', key], problem, 'fix the label key or value syntax');
  }
  for (const key of Object.keys(annotations)) {
    const problem = checkQualifiedName(key);
    if (problem) report.error(['metadata', 'annotations', key], problem, 'fix the annotation key syntax');
  }
  checkDryRun(r, report);
}

const DRY_RUN = 'istio.io/dry-run';

/** Go's strconv.ParseBool, which Istio uses to read `istio.io/dry-run`. */
export function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

// Istio's checkDryRunAnnotation: only ALLOW and DENY AuthorizationPolicies may be dry-run.
function checkDryRun(r: Resource, report: Reporter): void {
  const val = r.metadata.annotations[DRY_RUN];
  if (val === undefined) return;
  const path = ['metadata', 'annotations', DRY_RUN];
  const id = `${r.metadata.namespace}/${r.metadata.name}`;
  if (r.kind !== 'AuthorizationPolicy' || r.group !== 'security.istio.io') {
    return report.error(path, `${id} has unsupported annotation ${DRY_RUN}, please remove the annotation`, 'remove the annotation: only AuthorizationPolicies can be dry-run');
  }
  const action = isPlainObject(r.spec) && typeof r.spec.action === 'string' ? r.spec.action : 'ALLOW';
  if (action !== 'ALLOW' && action !== 'DENY') {
    return report.error(path, `the annotation ${DRY_RUN} currently only supports action ALLOW/DENY, found action ${action} in ${id}`, 'remove the annotation: CUSTOM and AUDIT policies are always enforced');
  }
  if (parseGoBool(val) === undefined) {
    report.error(path, `${id} has annotation ${DRY_RUN} with invalid value (${val}): strconv.ParseBool: parsing ${JSON.stringify(val)}: invalid syntax`, 'use "true" or "false"');
  }
}
