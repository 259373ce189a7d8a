// Messages between the primary (main thread: config source, admin/status/stats endpoints, stdout)
// and the data-plane workers of `run --concurrency N` (one worker thread each). Everything here
// crosses postMessage, so it is plain data: a snapshot is structured-cloned as it is (Maps, arrays,
// RegExps; test/workers/snapshot-transfer.test.ts holds that no class or function creeps in) when a
// worker starts, and after that only what changed goes (snapshot-delta.ts).
import type { TlsMaterial } from '../identity/source.ts';
import type { CredentialEntries } from '../model/credentials.ts';
import type { PodWorkload } from '../model/identity.ts';
import type { Snapshot } from '../model/snapshot.ts';
import type { SnapshotDelta } from './snapshot-delta.ts';
import type { WaypointOptions } from '../server.ts';
import type { MetricsState } from '../telemetry/metrics.ts';
import type { SummaryState } from '../telemetry/summary.ts';

/** What a worker needs of the run options: all of them but the logger and the in-process hooks. */
export type WorkerOptions = Omit<WaypointOptions, 'logger' | 'onRecord'>;

/**
 * What the primary owns and workers replicate (workers/replicas.ts): credentialName Secrets of the
 * Kubernetes source, the pod-IP index (--identify-pods-by-ip) and istiod's certificate (--ca-address).
 * A worker gets the current state in its init, then every change.
 */
export interface Replicas {
  readonly credentials?: CredentialEntries;
  /**
   * `entries`: JSON of [ip, PodWorkload][]. A string because it may hold 100,000 pods: structured
   * clone of the array took 430 ms of the primary's loop per worker start, JSON.stringify 57 ms.
   */
  readonly pods?: { readonly namespacesInPolicy: boolean; readonly entries: string };
  readonly identity?: TlsMaterial;
}

/** Pod-IP changes: the pod an IP now identifies, or null (no pod, or two at once). */
export type PodDelta = readonly (readonly [string, PodWorkload | null])[];

export interface WorkerInit {
  readonly replicas: Replicas;
  readonly index: number;
  readonly options: WorkerOptions;
  readonly logLevel: string;
  readonly snapshot: Snapshot;
  /** The ports to bind: the flags' for the first worker, the ones it got (port 0) for the others. */
  readonly ports: { readonly proxy: number; readonly hbone?: number; readonly proxyProtocol?: number };
  /** EGRESSWAY_TEST_HOOKS=1: a `crash` message makes the worker throw (tests of the restart path). */
  readonly testHooks: boolean;
}

export type ToWorker =
  | { readonly t: 'snapshot'; readonly snapshot: Snapshot }
  /** The next snapshot as a change to the one the worker was sent last (snapshot-delta.ts). */
  | { readonly t: 'delta'; readonly delta: SnapshotDelta }
  | { readonly t: 'collect'; readonly id: number }
  | { readonly t: 'drain'; readonly graceMs: number }
  | { readonly t: 'crash' }
  /** Every referenced Secret (few and small): sent whole on each change. */
  | { readonly t: 'credentials'; readonly entries: CredentialEntries }
  | { readonly t: 'pods'; readonly delta: PodDelta }
  | { readonly t: 'identity'; readonly material: TlsMaterial };

export interface Collected {
  readonly metrics: MetricsState;
  readonly summary: SummaryState;
  readonly activeRequests: number;
  readonly activeTunnels: number;
}

export type FromWorker =
  | { readonly t: 'listening'; readonly listeners: { readonly proxy: string; readonly hbone?: string; readonly proxyProtocol?: string } }
  | { readonly t: 'failed'; readonly message: string }
  /** Lines for stdout (operational log and access-log batches): the primary is its only writer. */
  | { readonly t: 'out'; readonly s: string }
  | { readonly t: 'swapped'; readonly version: string }
  /** A delta did not apply to the worker's snapshot (it never should): send the whole snapshot. */
  | { readonly t: 'resync'; readonly version: string }
  | { readonly t: 'collected'; readonly id: number; readonly data: Collected }
  | { readonly t: 'drained' };
