// Gateway API HTTPRoute (gateway.networking.k8s.io v1, v1beta1), including the experimental `retry`
// field and Istio's parentRefs to a ServiceEntry (reference §2.4). The wire type mirrors the YAML;
// the rules (the CRD's CEL rules plus istiod's conversion errors) live in http-route-rules.ts.
import type { Diagnostic } from '../../model/diagnostic.ts';
import type { Resource } from '../resource.ts';
import { s } from '../schema.ts';
import { validateKind } from './common.ts';
import type { ValidationOptions } from './common.ts';
import { httpRouteRules } from './http-route-rules.ts';

export interface ParentReference {
  readonly group?: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name: string;
  readonly sectionName?: string;
  readonly port?: number;
}

export interface HTTPHeader {
  readonly name: string;
  readonly value: string;
}

export interface HeaderModifier {
  readonly set?: readonly HTTPHeader[];
  readonly add?: readonly HTTPHeader[];
  readonly remove?: readonly string[];
}

export interface BackendRef {
  readonly group?: string;
  /** Default `Service`; Istio adds `Hostname` and `ServiceEntry` (group networking.istio.io). */
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
  readonly port?: number;
  readonly weight?: number;
}

export interface PathModifier {
  readonly type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  readonly replaceFullPath?: string;
  readonly replacePrefixMatch?: string;
}

export interface HTTPRouteFilter {
  readonly type: string;
  readonly requestHeaderModifier?: HeaderModifier;
  readonly responseHeaderModifier?: HeaderModifier;
  readonly requestMirror?: { readonly backendRef: BackendRef; readonly percent?: number; readonly fraction?: { readonly numerator: number; readonly denominator?: number } };
  readonly requestRedirect?: { readonly scheme?: string; readonly hostname?: string; readonly path?: PathModifier; readonly port?: number; readonly statusCode?: number };
  readonly urlRewrite?: { readonly hostname?: string; readonly path?: PathModifier };
  readonly extensionRef?: { readonly group: string; readonly kind: string; readonly name: string };
  readonly cors?: unknown;
}

export interface HTTPRouteMatch {
  readonly path?: { readonly type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; readonly value?: string };
  readonly headers?: readonly { readonly type?: 'Exact' | 'RegularExpression'; readonly name: string; readonly value: string }[];
  readonly queryParams?: readonly { readonly type?: 'Exact' | 'RegularExpression'; readonly name: string; readonly value: string }[];
  readonly method?: string;
}

export interface HTTPRouteRule {
  readonly name?: string;
  readonly matches?: readonly HTTPRouteMatch[];
  readonly filters?: readonly HTTPRouteFilter[];
  readonly backendRefs?: readonly (BackendRef & { readonly filters?: readonly HTTPRouteFilter[] })[];
  readonly timeouts?: { readonly request?: string; readonly backendRequest?: string };
  /** Experimental channel (GEP-1731). */
  readonly retry?: { readonly codes?: readonly number[]; readonly attempts?: number; readonly backoff?: string };
  readonly sessionPersistence?: unknown;
}

export interface HTTPRouteSpec {
  readonly parentRefs?: readonly ParentReference[];
  readonly hostnames?: readonly string[];
  readonly rules?: readonly HTTPRouteRule[];
}

export const FILTER_TYPES = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'RequestRedirect', 'URLRewrite', 'ExtensionRef', 'CORS'];
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

const header = s.object({ name: s.string(), value: s.string() }, { required: ['name', 'value'] });
const headerModifier = s.object({ set: s.array(header), add: s.array(header), remove: s.array(s.string()) });
const backendRefFields = { group: s.string(), kind: s.string(), name: s.string(), namespace: s.string(), port: s.integer(), weight: s.integer() };
const pathModifier = s.object({ type: s.string(['ReplaceFullPath', 'ReplacePrefixMatch']), replaceFullPath: s.string(), replacePrefixMatch: s.string() }, { required: ['type'] });
const filter = s.object({
  type: s.string(FILTER_TYPES),
  requestHeaderModifier: headerModifier,
  responseHeaderModifier: headerModifier,
  requestMirror: s.object({ backendRef: s.object(backendRefFields, { required: ['name'] }), percent: s.integer(), fraction: s.object({ numerator: s.integer(), denominator: s.integer() }) }, { required: ['backendRef'] }),
  requestRedirect: s.object({ scheme: s.string(['http', 'https']), hostname: s.string(), path: pathModifier, port: s.integer(), statusCode: s.integer() }),
  urlRewrite: s.object({ hostname: s.string(), path: pathModifier }),
  extensionRef: s.object({ group: s.string(), kind: s.string(), name: s.string() }),
  cors: s.any(),
}, { required: ['type'] });
const keyValueMatch = s.object({ type: s.string(['Exact', 'RegularExpression']), name: s.string(), value: s.string() }, { required: ['name', 'value'] });

const shape = {
  spec: s.object({
    parentRefs: s.array(s.object({ group: s.string(), kind: s.string(), namespace: s.string(), name: s.string(), sectionName: s.string(), port: s.integer() }, { required: ['name'] })),
    hostnames: s.array(s.string()),
    rules: s.array(s.object({
      name: s.string(),
      matches: s.array(s.object({
        path: s.object({ type: s.string(['Exact', 'PathPrefix', 'RegularExpression']), value: s.string() }),
        headers: s.array(keyValueMatch), queryParams: s.array(keyValueMatch), method: s.string(METHODS),
      })),
      filters: s.array(filter),
      backendRefs: s.array(s.object({ ...backendRefFields, filters: s.array(filter) }, { required: ['name'] })),
      timeouts: s.object({ request: s.string(), backendRequest: s.string() }),
      retry: s.object({ codes: s.array(s.integer()), attempts: s.integer(), backoff: s.string() }),
      sessionPersistence: s.any(),
    })),
  }),
  status: s.object({}, { open: true }),
};

export function validateHTTPRoute(r: Resource, options: ValidationOptions = {}): Diagnostic[] {
  return validateKind<HTTPRouteSpec>(r, shape, httpRouteRules, options);
}
