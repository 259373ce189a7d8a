// Istio VirtualService (networking.istio.io v1, v1beta1, v1alpha3). The wire type mirrors the YAML
// field names of networking/v1alpha3/virtual_service.proto exactly; what a waypoint does with them is
// compile's business (reference §2.5). The rules (reference §6.3) live in virtual-service-rules.ts.
import type { Diagnostic } from '../../model/diagnostic.ts';
import type { Resource } from '../resource.ts';
import { s } from '../schema.ts';
import type { Schema } from '../schema.ts';
import { validateKind } from './common.ts';
import type { ValidationOptions } from './common.ts';
import { virtualServiceRules } from './virtual-service-rules.ts';

export interface VirtualServiceSpec {
  readonly hosts?: readonly string[];
  readonly gateways?: readonly string[];
  readonly http?: readonly HTTPRoute[];
  readonly tls?: readonly TLSRoute[];
  readonly tcp?: readonly TCPRoute[];
  readonly exportTo?: readonly string[];
}

/** Exactly one of exact / prefix / regex. */
export interface StringMatch {
  readonly exact?: string;
  readonly prefix?: string;
  readonly regex?: string;
}

export interface PortSelector {
  readonly number?: number;
}

export interface Destination {
  readonly host: string;
  readonly subset?: string;
  readonly port?: PortSelector;
}

export interface Percent {
  readonly value?: number;
}

export interface HeaderOperations {
  readonly set?: Readonly<Record<string, string>>;
  readonly add?: Readonly<Record<string, string>>;
  readonly remove?: readonly string[];
}

export interface Headers {
  readonly request?: HeaderOperations;
  readonly response?: HeaderOperations;
}

export interface HTTPMatchRequest {
  readonly name?: string;
  readonly uri?: StringMatch;
  readonly scheme?: StringMatch;
  readonly method?: StringMatch;
  readonly authority?: StringMatch;
  readonly headers?: Readonly<Record<string, StringMatch>>;
  readonly port?: number;
  readonly sourceLabels?: Readonly<Record<string, string>>;
  readonly gateways?: readonly string[];
  readonly queryParams?: Readonly<Record<string, StringMatch>>;
  readonly ignoreUriCase?: boolean;
  readonly withoutHeaders?: Readonly<Record<string, StringMatch>>;
  readonly sourceNamespace?: string;
  readonly statPrefix?: string;
}

export interface HTTPRouteDestination {
  readonly destination: Destination;
  readonly weight?: number;
  readonly headers?: Headers;
}

export interface HTTPRetry {
  readonly attempts?: number;
  readonly perTryTimeout?: string;
  readonly retryOn?: string;
  readonly retryRemoteLocalities?: boolean;
  readonly retryIgnorePreviousHosts?: boolean;
  readonly backoff?: string;
}

export interface HTTPFaultInjection {
  readonly delay?: { readonly fixedDelay?: string; readonly exponentialDelay?: string; readonly percentage?: Percent; readonly percent?: number };
  readonly abort?: { readonly httpStatus?: number; readonly grpcStatus?: string; readonly http2Error?: string; readonly percentage?: Percent };
}

export interface HTTPRoute {
  readonly name?: string;
  readonly match?: readonly HTTPMatchRequest[];
  readonly route?: readonly HTTPRouteDestination[];
  readonly redirect?: {
    readonly uri?: string; readonly authority?: string; readonly port?: number; readonly derivePort?: string;
    readonly scheme?: string; readonly redirectCode?: number; readonly prefixRewrite?: string;
  };
  readonly directResponse?: { readonly status: number; readonly body?: { readonly string?: string; readonly bytes?: string } };
  readonly delegate?: { readonly name?: string; readonly namespace?: string };
  readonly rewrite?: { readonly uri?: string; readonly authority?: string; readonly uriRegexRewrite?: { readonly match?: string; readonly rewrite?: string } };
  readonly timeout?: string;
  readonly retries?: HTTPRetry;
  readonly fault?: HTTPFaultInjection;
  readonly mirror?: Destination;
  readonly mirrors?: readonly { readonly destination: Destination; readonly percentage?: Percent }[];
  readonly mirrorPercentage?: Percent;
  readonly mirrorPercent?: number;
  readonly corsPolicy?: {
    readonly allowOrigins?: readonly StringMatch[]; readonly allowOrigin?: readonly string[];
    readonly allowMethods?: readonly string[]; readonly allowHeaders?: readonly string[];
    readonly exposeHeaders?: readonly string[]; readonly maxAge?: string; readonly allowCredentials?: boolean;
    readonly unmatchedPreflights?: string;
  };
  readonly headers?: Headers;
}

export interface L4MatchAttributes {
  readonly destinationSubnets?: readonly string[];
  readonly port?: number;
  readonly sourceLabels?: Readonly<Record<string, string>>;
  readonly gateways?: readonly string[];
  readonly sourceNamespace?: string;
}

export interface RouteDestination {
  readonly destination: Destination;
  readonly weight?: number;
}

export interface TLSRoute {
  readonly match: readonly (L4MatchAttributes & { readonly sniHosts: readonly string[] })[];
  readonly route?: readonly RouteDestination[];
}

export interface TCPRoute {
  readonly match?: readonly (L4MatchAttributes & { readonly sourceSubnet?: string })[];
  readonly route?: readonly RouteDestination[];
}

const strings = s.array(s.string());
const stringMatch = s.object({ exact: s.string(), prefix: s.string(), regex: s.string() });
const percent = s.object({ value: s.any() });
export const destinationSchema = s.object({ host: s.string(), subset: s.string(), port: s.object({ number: s.integer() }) }, { required: ['host'] });
const headerOps = s.object({ set: s.map(s.string()), add: s.map(s.string()), remove: strings });
const headers = s.object({ request: headerOps, response: headerOps });
const l4Match: Record<string, Schema> = {
  destinationSubnets: strings, port: s.integer(), sourceLabels: s.map(s.string()), gateways: strings, sourceNamespace: s.string(),
};
const routeDestination = s.object({ destination: destinationSchema, weight: s.integer() }, { required: ['destination'] });

const httpMatch = s.object({
  name: s.string(), uri: stringMatch, scheme: stringMatch, method: stringMatch, authority: stringMatch,
  headers: s.map(stringMatch, (name) => `header match ${name} cannot be null`), port: s.integer(), sourceLabels: s.map(s.string()), gateways: strings,
  queryParams: s.map(stringMatch), ignoreUriCase: s.boolean(), withoutHeaders: s.map(stringMatch),
  sourceNamespace: s.string(), statPrefix: s.string(),
});

const httpRoute = s.object({
  name: s.string(),
  match: s.array(httpMatch),
  route: s.array(s.object({ destination: destinationSchema, weight: s.integer(), headers }, { required: ['destination'] })),
  redirect: s.object({ uri: s.string(), authority: s.string(), port: s.integer(), derivePort: s.string(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']), scheme: s.string(), redirectCode: s.integer(), prefixRewrite: s.string() }),
  directResponse: s.object({ status: s.integer(), body: s.object({ string: s.string(), bytes: s.string() }) }, { required: ['status'] }),
  delegate: s.object({ name: s.string(), namespace: s.string() }),
  rewrite: s.object({ uri: s.string(), authority: s.string(), uriRegexRewrite: s.object({ match: s.string(), rewrite: s.string() }) }),
  timeout: s.string(),
  retries: s.object({ attempts: s.integer(), perTryTimeout: s.string(), retryOn: s.string(), retryRemoteLocalities: s.boolean(), retryIgnorePreviousHosts: s.boolean(), backoff: s.string() }),
  fault: s.object({
    delay: s.object({ fixedDelay: s.string(), percentage: percent, percent: s.integer(), exponentialDelay: s.string() }),
    abort: s.object({ httpStatus: s.integer(), grpcStatus: s.string(), http2Error: s.string(), percentage: percent }),
  }),
  mirror: destinationSchema,
  mirrors: s.array(s.object({ destination: destinationSchema, percentage: percent }, { required: ['destination'] })),
  mirrorPercentage: percent,
  mirrorPercent: s.integer(),
  corsPolicy: s.object({
    allowOrigins: s.array(stringMatch), allowOrigin: strings, allowMethods: strings, allowHeaders: strings,
    exposeHeaders: strings, maxAge: s.string(), allowCredentials: s.boolean(), unmatchedPreflights: s.string(['UNSPECIFIED', 'FORWARD', 'IGNORE']),
  }),
  headers,
});

const shape = {
  spec: s.object({
    hosts: strings,
    gateways: strings,
    http: s.array(httpRoute),
    tls: s.array(s.object({ match: s.array(s.object({ ...l4Match, sniHosts: strings })), route: s.array(routeDestination) })),
    tcp: s.array(s.object({ match: s.array(s.object({ ...l4Match, sourceSubnet: s.string() })), route: s.array(routeDestination) })),
    exportTo: strings,
  }),
  status: s.object({}, { open: true }),
};

export function validateVirtualService(r: Resource, options: ValidationOptions = {}): Diagnostic[] {
  return validateKind<VirtualServiceSpec>(r, shape, virtualServiceRules, options);
}
