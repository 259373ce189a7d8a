import type { ClientTLSSettings } from '../config/kinds/destination-rule.ts';
// The egress intent behind a sidecar-era config: which hosts and ports, who may call them, whether the
// gateway originated TLS, and the routing that must survive. Both input patterns (Istio's egress
// gateway tasks, ASM's ASMEgressTrafficPolicy) are read into this one shape; emit.ts writes the
// ambient config from it and verify.ts replays requests against it.

export interface IntentPort {
  readonly number: number;
  readonly name: string;
  readonly protocol: string;
  /** Set when the old gateway upgraded HTTP to TLS on this port: the port it dialled. */
  readonly originateTlsTo?: number;
  /** The old DestinationRule's TLS settings, carried whole (mode, SNI, SANs, CA, client certificate). */
  readonly tls?: ClientTLSSettings;
}

export interface Sources {
  readonly namespaces: readonly string[];
  /** `cluster.local/ns/<ns>/sa/<sa>`. */
  readonly principals: readonly string[];
}

export interface RoutePolicy {
  readonly timeout?: string;
  readonly retries?: { readonly attempts?: number; readonly perTryTimeout?: string; readonly retryOn?: string };
  readonly requestHeaders?: { readonly set?: Readonly<Record<string, string>>; readonly add?: Readonly<Record<string, string>>; readonly remove?: readonly string[] };
}

export interface Intent {
  readonly namespace: string;
  readonly name: string;
  readonly hosts: readonly string[];
  readonly ports: readonly IntentPort[];
  readonly resolution: string;
  readonly endpoints?: readonly unknown[];
  readonly addresses?: readonly string[];
  /** Undefined: any mesh workload (the old config did not restrict callers). */
  readonly sources?: Sources;
  readonly route?: RoutePolicy;
  /** Pool / outlier / LB settings of the old external-host DestinationRule, carried verbatim. */
  readonly trafficPolicy?: Readonly<Record<string, unknown>>;
  /** A resource copied as it is instead of a ServiceEntry (a DestinationRule no ServiceEntry covers). */
  readonly carryOnly?: { readonly kind: 'DestinationRule'; readonly spec: unknown };
  /** Where the intent came from, for the report. */
  readonly from: string;
}

export interface Finding {
  readonly what: string;
  readonly why: string;
}

export interface Extraction {
  readonly intents: Intent[];
  readonly dropped: Finding[];
  readonly warnings: Finding[];
}

export const ref = (r: { kind: string; metadata: { namespace: string; name: string } }) => `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`;
