// Every metric `egressway controller` exports, in one place (the waypoint's are in metrics.ts).
// Labels come from closed sets: the kinds the controller writes, and ok|error.
import { Counter, Gauge, Registry } from 'prom-client';

export type WrittenKind = 'GatewayClass' | 'Gateway' | 'HTTPRoute' | 'ServiceEntry' | 'ServiceAccount' | 'Deployment' | 'Service' | 'PodDisruptionBudget' | 'ClusterRoleBinding' | 'RoleBinding';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({ name: 'egressway_controller_reconciles_total', help: 'Reconcile passes over every watched object, by result (error: at least one write failed)', labelNames: ['result'], registers: [this.registry] });
  readonly writes = new Counter({ name: 'egressway_controller_writes_total', help: 'Server-side applies the leader made, by kind and result', labelNames: ['kind', 'result'], registers: [this.registry] });
  readonly isLeader = new Gauge({ name: 'egressway_controller_is_leader', help: '1 while this replica holds the leader Lease (only the leader writes)', registers: [this.registry] });
  readonly leaderTransitions = new Counter({ name: 'egressway_controller_leader_transitions_total', help: 'Times this replica started or stopped leading', labelNames: ['to'], registers: [this.registry] });

  write(kind: WrittenKind, ok: boolean): void {
    this.writes.inc({ kind, result: ok ? 'ok' : 'error' });
  }
}
