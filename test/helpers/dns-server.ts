// An authoritative DNS server on loopback for resolution tests: answers A, AAAA and CNAME from an
// in-memory zone that a test can change while the proxy runs, returns NXDOMAIN for unknown names, and
// logs every question so a test can prove caching by counting queries. It speaks real DNS over UDP (and
// optionally TCP on the same port), so the proxy's own resolver code runs unchanged against it.

import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Question } from 'dns-packet';
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { closeServer, hostPort, trackSockets } from './lifecycle.ts';
import type { Closable, LoopbackHost } from './lifecycle.ts';

export type DnsRecord =
  | { type: 'A'; address: string; ttl?: number }
  | { type: 'AAAA'; address: string; ttl?: number }
  | { type: 'CNAME'; target: string; ttl?: number };

/** SERVFAIL and REFUSED answer with that rcode; 'drop' never answers, so the client times out. */
export type DnsFailure = 'SERVFAIL' | 'REFUSED' | 'drop';

export interface DnsQuery {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
}

export interface DnsServerOptions {
  records?: Readonly<Record<string, readonly DnsRecord[]>>;
  host?: LoopbackHost;
  /** Also serve DNS over TCP on the same port number (clients retry over TCP after truncation). */
  tcp?: boolean;
  /** TTL for records that set none. Defaults to 30 s. */
  defaultTtl?: number;
}

export interface DnsServer extends Closable {
  readonly host: LoopbackHost;
  readonly port: number;
  /** 'host:port', ready for `resolver.setServers([server.address])`. */
  readonly address: string;
  /** Every question received, in order. */
  readonly queries: DnsQuery[];
  /** Replaces the answers for a name (created if unknown); an empty list gives NOERROR with no data. */
  set(name: string, records: readonly DnsRecord[]): void;
  /** Makes a name fail instead of answering. */
  fail(name: string, failure: DnsFailure): void;
  /** Forgets a name, so it answers NXDOMAIN. */
  delete(name: string): void;
  /** Questions seen for a name, optionally of one type. */
  countQueries(name: string, type?: string): number;
  clearQueries(): void;
}

type ZoneEntry = readonly DnsRecord[] | DnsFailure;
type Zone = Map<string, ZoneEntry>;

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
const MAX_CNAME_HOPS = 8;
const BIND_ATTEMPTS = 10;

export async function startDnsServer(opts: DnsServerOptions = {}): Promise<DnsServer> {
  const host = opts.host ?? '127.0.0.1';
  const zone: Zone = new Map();
  for (const [name, records] of Object.entries(opts.records ?? {})) zone.set(normalize(name), records);
  const queries: DnsQuery[] = [];
  const respond = (query: Buffer, transport: DnsQuery['transport']): Buffer | null =>
    handleQuery(query, { zone, queries, transport, defaultTtl: opts.defaultTtl ?? 30 });
  const { udp, tcp } = await bindTransports(host, opts.tcp ?? false);
  udp.socket.on('message', (msg: Buffer, peer: RemoteInfo) => {
    const reply = respond(msg, 'udp');
    if (reply) udp.socket.send(reply, peer.port, peer.address);
  });
  tcp?.server.on('connection', (socket: Socket) => serveTcp(socket, (msg) => respond(msg, 'tcp')));
  const port = udp.socket.address().port;
  return {
    host,
    port,
    address: hostPort(host, port),
    queries,
    set: (name, records) => void zone.set(normalize(name), records),
    fail: (name, failure) => void zone.set(normalize(name), failure),
    delete: (name) => void zone.delete(normalize(name)),
    countQueries: (name, type) =>
      queries.filter((q) => q.name === normalize(name) && (type === undefined || q.type === type)).length,
    clearQueries: () => void (queries.length = 0),
    close: async () => {
      await Promise.all([closeUdp(udp.socket), tcp ? closeServer(tcp.server, tcp.sockets) : undefined]);
    },
  };
}

interface QueryContext {
  zone: Zone;
  queries: DnsQuery[];
  transport: DnsQuery['transport'];
  defaultTtl: number;
}

/** Decodes one query and encodes its response; null means send nothing (malformed, or 'drop'). */
function handleQuery(msg: Buffer, ctx: QueryContext): Buffer | null {
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(msg);
  } catch {
    return null;
  }
  const question = query.questions?.[0];
  if (!question) return null;
  ctx.queries.push({ name: normalize(question.name), type: question.type, transport: ctx.transport });
  const result = resolveQuestion(ctx.zone, question, ctx.defaultTtl);
  if (result === 'drop') return null;
  return dnsPacket.encode({
    type: 'response',
    id: query.id,
    // Authoritative, recursion "available" so stub resolvers do not complain, RD echoed per RFC 1035.
    flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_AVAILABLE
      | (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | result.rcode,
    questions: [question],
    answers: result.answers,
  });
}

interface Resolution {
  rcode: number;
  answers: Answer[];
}

/** Follows CNAMEs inside the zone, as an authoritative server does for names it owns. */
function resolveQuestion(zone: Zone, question: Question, defaultTtl: number): Resolution | 'drop' {
  const answers: Answer[] = [];
  let name = normalize(question.name);
  for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
    const entry = zone.get(name);
    if (entry === undefined) return { rcode: hop === 0 ? RCODE.NXDOMAIN : RCODE.NOERROR, answers };
    if (entry === 'drop') return 'drop';
    if (typeof entry === 'string') return { rcode: RCODE[entry], answers };
    const cname = entry.find((r) => r.type === 'CNAME');
    if (cname && question.type !== 'CNAME') {
      answers.push(toAnswer(name, cname, defaultTtl));
      name = normalize(cname.target);
      continue;
    }
    answers.push(...entry.filter((r) => r.type === question.type).map((r) => toAnswer(name, r, defaultTtl)));
    return { rcode: RCODE.NOERROR, answers };
  }
  return { rcode: RCODE.SERVFAIL, answers: [] };
}

function toAnswer(name: string, record: DnsRecord, defaultTtl: number): Answer {
  const data = record.type === 'CNAME' ? record.target : record.address;
  return { type: record.type, name, ttl: record.ttl ?? defaultTtl, class: 'IN', data };
}

/** DNS over TCP frames every message with a two-byte length (RFC 1035 4.2.2). */
function serveTcp(socket: Socket, respond: (msg: Buffer) => Buffer | null): void {
  let pending = Buffer.alloc(0);
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
      const length = pending.readUInt16BE(0);
      const reply = respond(pending.subarray(2, 2 + length));
      pending = pending.subarray(2 + length);
      if (reply) socket.write(Buffer.concat([lengthPrefix(reply.length), reply]));
    }
  });
}

function lengthPrefix(length: number): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(length);
  return prefix;
}

interface Transports {
  udp: { socket: UdpSocket };
  tcp: { server: Server; sockets: Set<Socket> } | null;
}

/**
 * Binds UDP on port 0, then TCP on the same number when asked. Another process may already hold that
 * TCP port, so on EADDRINUSE it starts over with a fresh UDP port.
 */
async function bindTransports(host: LoopbackHost, withTcp: boolean): Promise<Transports> {
  for (let attempt = 1; ; attempt++) {
    const socket = await bindUdp(host);
    if (!withTcp) return { udp: { socket }, tcp: null };
    const server = createServer();
    const sockets = trackSockets(server);
    try {
      await listenTcp(server, host, socket.address().port);
      return { udp: { socket }, tcp: { server, sockets } };
    } catch (err) {
      await closeUdp(socket);
      if (attempt >= BIND_ATTEMPTS || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
}

function bindUdp(host: LoopbackHost): Promise<UdpSocket> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: host, port: 0, exclusive: true }, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

function listenTcp(server: Server, host: LoopbackHost, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeUdp(socket: UdpSocket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/** DNS names compare case-insensitively and with or without the root dot. */
function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}
