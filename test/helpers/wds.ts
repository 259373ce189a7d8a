// A workload-API (WDS) subscription to istiod as ztunnel makes it: delta ADS over the plaintext
// xDS port (15010), node type `ztunnel`, type istio.workload.Address, wildcard. What it receives is
// exactly what istiod would push to every ztunnel: Services (with their waypoint) and Workloads
// (with their inbound application tunnel). grpc-js with Istio's workload.proto, decoded by
// proto-loader (Any expanded to the typed message).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

const PROTOS = ['./proto/delta-discovery.proto', './proto/workload.proto'].map((p) => fileURLToPath(new URL(`../istio/${p.slice(2)}`, import.meta.url)));
export const ADDRESS_TYPE = 'type.googleapis.com/istio.workload.Address';

export interface WdsAddress {
  '@type'?: string;
  workload?: { name: string; namespace: string; applicationTunnel?: { protocol?: string; port?: number } };
  service?: { name: string; namespace: string; hostname: string; waypoint?: { hostname?: { namespace: string; hostname: string }; hboneMtlsPort?: number } };
}

export interface WdsSubscription {
  /** Resource name -> the latest Address istiod sent. */
  readonly addresses: Map<string, WdsAddress>;
  close(): void;
}

type AdsClient = grpc.Client & { DeltaAggregatedResources(): grpc.ClientDuplexStream<unknown, { resources: { name: string; resource: WdsAddress }[]; removedResources: string[]; nonce: string; typeUrl: string }> };

export function subscribeWds(address: string): WdsSubscription {
  const def = protoLoader.loadSync(PROTOS, { keepCase: false, longs: Number, enums: String, defaults: false, oneofs: false, json: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: new (a: string, c: grpc.ChannelCredentials) => AdsClient } } } } };
  const client = new pkg.envoy.service.discovery.v3.AggregatedDiscoveryService(address, grpc.credentials.createInsecure());
  const stream = client.DeltaAggregatedResources();
  const addresses = new Map<string, WdsAddress>();
  const node = {
    id: 'ztunnel~127.0.0.10~ztunnel-test.istio-system~istio-system.svc.cluster.local', cluster: 'Kubernetes',
    metadata: { fields: { NAMESPACE: { stringValue: 'istio-system' }, CLUSTER_ID: { stringValue: 'Kubernetes' } } },
  };
  stream.on('data', (r) => {
    for (const res of r.resources) addresses.set(res.name, res.resource);
    for (const name of r.removedResources ?? []) addresses.delete(name);
    stream.write({ typeUrl: r.typeUrl, responseNonce: r.nonce });
  });
  stream.on('error', () => {});
  stream.write({ node, typeUrl: ADDRESS_TYPE });
  return {
    addresses,
    close() {
      stream.cancel();
      client.close();
    },
  };
}
