// The real `helm` (helm.sh/helm/v4, built by scripts/build-peers.sh into .peers/bin) and the chart in
// deploy/helm/egressway, rendered and parsed with the `yaml` package for assertions.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { PEERS_DIR } from './kube.ts';
import { REPO_ROOT } from './waypoint.ts';

export const HELM = join(PEERS_DIR, 'bin', 'helm');
export const CHART = join(REPO_ROOT, 'deploy', 'helm', 'egressway');
export const MANIFESTS = join(REPO_ROOT, 'deploy', 'manifests', 'egressway.yaml');

/** undefined when helm is built; else why the suite skips. */
export function helmMissing(): string | undefined {
  return existsSync(HELM) ? undefined : 'skipped: helm not built (run scripts/build-peers.sh; .ci/run does)';
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm; resolves with the exit code and output whatever the code (callers assert on it). */
export function helm(args: readonly string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(HELM, [...args], { maxBuffer: 16 * 1024 * 1024, env: { ...process.env, HELM_CACHE_HOME: '/tmp/egressway-helm/cache', HELM_CONFIG_HOME: '/tmp/egressway-helm/config', HELM_DATA_HOME: '/tmp/egressway-helm/data' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

/** `helm template` of the chart (release egressway) with `--set` pairs; throws with helm's message on failure. */
export async function renderChart(set: Readonly<Record<string, string>> = {}, namespace = 'egressway-system'): Promise<K8sObject[]> {
  const args = ['template', 'egressway', CHART, '--namespace', namespace, ...Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`])];
  const r = await helm(args);
  if (r.code !== 0) throw new Error(`helm ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return parseManifests(r.stdout);
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length) throw new Error(`rendered YAML does not parse: ${d.errors[0]!.message}`);
    return d.toJS() as K8sObject | null;
  }).filter((o): o is K8sObject => o !== null);
}

/** The one object of `kind` named `name`; fails listing what there is. */
export function pick(objects: readonly K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1) throw new Error(`${found.length} ${kind} named ${name}; rendered: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found[0]!;
}
