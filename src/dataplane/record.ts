// Builds the per-request record and finishes it exactly once.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { RequestRecord } from '../telemetry/record.ts';
import { FAILURES, type FailureCode } from './errors.ts';
import { formatAuthority } from './authority.ts';

export type RecordSink = (r: RequestRecord) => void;

export interface RecordStart {
  readonly kind: 'http' | 'tcp';
  readonly method: string;
  readonly path: string;
  readonly protocol: string;
  readonly authority: string;
  readonly userAgent: string;
  readonly requestId: string;
  readonly local: string;
  readonly remote: string;
}

export function newRecord(s: RecordStart): RequestRecord {
  return {
    startTime: Date.now(), protocolKind: s.kind,
    method: s.method, path: s.path, protocol: s.protocol, authority: s.authority,
    responseCode: 0, responseFlags: '-', responseCodeDetails: '', connectionTerminationDetails: '',
    upstreamTransportFailureReason: '', bytesReceived: 0, bytesSent: 0, durationMs: 0, upstreamServiceTimeMs: null,
    xForwardedFor: '', userAgent: s.userAgent, requestId: s.requestId,
    upstreamHost: '', upstreamCluster: '', upstreamLocalAddress: '',
    downstreamLocalAddress: s.local, downstreamRemoteAddress: s.remote,
    requestedServerName: '', routeName: '', destinationService: 'unknown', destinationServiceNamespace: 'unknown',
    sourcePrincipal: '', sourceWorkload: '', sourceNamespace: '', connectionSecurityPolicy: 'none',
  };
}

/** A record for a request read by Node's HTTP server; `peer` overrides addresses for streams that are not sockets. */
export function recordFromRequest(req: IncomingMessage, kind: 'http' | 'tcp', peer?: { local: string; remote: string }): RequestRecord {
  const s = req.socket;
  const r = newRecord({
    kind, method: req.method ?? '', path: kind === 'http' ? req.url ?? '' : '', protocol: `HTTP/${req.httpVersion}`,
    authority: (kind === 'tcp' ? req.url : req.headers.host) ?? '',
    userAgent: header(req, 'user-agent'), requestId: header(req, 'x-request-id'),
    local: peer?.local ?? addr(s.localAddress, s.localPort), remote: peer?.remote ?? addr(s.remoteAddress, s.remotePort),
  });
  // Istio's stats filter counts a request as gRPC by its content-type (application/grpc, +proto, ...).
  if (kind === 'http' && header(req, 'content-type').toLowerCase().startsWith('application/grpc')) r.grpc = true;
  return r;
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v ?? '';
}

export function addr(ip: string | undefined, port: number | undefined): string {
  return ip && port ? formatAuthority(ip.startsWith('::ffff:') ? ip.slice(7) : ip, port) : '';
}

export function socketAddrs(r: RequestRecord, s: Socket): void {
  r.upstreamLocalAddress = addr(s.localAddress, s.localPort);
}

export function markFailure(r: RequestRecord, code: FailureCode, reason?: string, details?: string): void {
  const f = FAILURES[code];
  r.responseFlags = f.flag;
  r.responseCodeDetails = details ?? f.details;
  if (reason && (f.flag === 'UF' || f.flag === 'UC' || f.flag === 'UR' || f.flag === 'UPE')) r.upstreamTransportFailureReason = reason;
}

/** Returns a function that finishes the record once; later calls are ignored. */
export function finisher(r: RequestRecord, sink: RecordSink): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    r.durationMs = Date.now() - r.startTime;
    if (!r.responseCodeDetails && r.responseCode) r.responseCodeDetails = 'via_upstream';
    sink(r);
  };
}
