// The client end of HBONE: pooled HTTP/2 connections to waypoints, one per (source identity,
// waypoint address) as ztunnel pools them, with many CONNECT streams each. A connection whose
// streams reach the peer's max_concurrent_streams gets a sibling. On a certificate rotation the
// pooled connections are closed gracefully (GOAWAY: open tunnels finish, new ones use a new one).
import { X509Certificate } from 'node:crypto';
import { randomHex } from '../dataplane/ids.ts';
import { connect as h2connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { identityFromSan } from '../model/identity.ts';
import { startKeepalive } from './keepalive.ts';
import type { TlsMaterial } from './tls-files.ts';

export interface HboneTarget {
  /** host:port of the waypoint's 15008 listener. */
  readonly address: string;
  /** The SPIFFE ID the waypoint must present (spiffe://<td>/ns/<gw-ns>/sa/<gw-name>). */
  readonly identity: string;
}

export interface TunnelRequest {
  /** :authority: host:port or VIP:port. */
  readonly authority: string;
  /** forwarded for= (the local client's ip:port) and host= (the service hostname). */
  readonly forwardedFor?: string;
  readonly forwardedHost?: string;
  readonly baggage?: string;
}

export type TunnelResult =
  | { readonly ok: true; readonly stream: ClientHttp2Stream }
  | { readonly ok: false; readonly status: number; readonly body: string };

interface Pooled {
  readonly session: ClientHttp2Session;
  readonly generation: number;
  active: number;
}

export class HbonePool {
  #tls: TlsMaterial;
  #identity: string;
  #generation = 0;
  #pools = new Map<string, Pooled[]>();
  #connecting = new Map<string, Promise<Pooled>>();
  #keepalive: { intervalMs: number; timeoutMs: number };

  constructor(tls: TlsMaterial, keepalive = { intervalMs: 10_000, timeoutMs: 20_000 }) {
    this.#tls = tls;
    this.#identity = identityOf(tls.cert);
    this.#keepalive = keepalive;
  }

  /** The identity in our certificate, the pool key's first half. */
  get identity(): string {
    return this.#identity;
  }

  /** New connections present the new certificate; pooled ones drain (GOAWAY) and close. */
  setTls(m: TlsMaterial): void {
    this.#tls = m;
    this.#identity = identityOf(m.cert);
    this.#generation++;
    for (const list of this.#pools.values()) for (const p of list) p.session.close();
  }

  /** Bumped by setTls(): anything pooled on top of HBONE streams (the agent's keep-alive pools) is stale. */
  get generation(): number {
    return this.#generation;
  }

  get sessions(): number {
    let n = 0;
    for (const list of this.#pools.values()) n += list.length;
    return n;
  }

  async open(target: HboneTarget, req: TunnelRequest): Promise<TunnelResult> {
    const p = await this.#session(target);
    const headers: Record<string, string> = { ':method': 'CONNECT', ':authority': req.authority };
    if (req.forwardedFor) headers.forwarded = `for="${req.forwardedFor}"${req.forwardedHost ? `;host=${req.forwardedHost}` : ''}`;
    if (req.baggage) headers.baggage = req.baggage;
    headers.traceparent = `00-${randomHex(16)}-${randomHex(8)}-00`;
    // request() throws when the session is already closing; the slot is counted only once it exists.
    const stream = p.session.request(headers, { endStream: false });
    p.active++;
    return new Promise((resolve, reject) => {
      let settled = false;
      let answered = false;
      const onError = (err: Error) => {
        settled = true;
        reject(err);
      };
      stream.once('error', onError);
      // One 'close' listener does both jobs: the stream slot is freed, and a stream that closes
      // without a response or an error (the session went away) settles instead of hanging.
      stream.once('close', () => {
        p.active--;
        if (!settled && !answered) {
          settled = true;
          reject(new Error(`the HBONE stream closed before the waypoint answered (code ${stream.rstCode ?? 0})`));
        }
      });
      stream.once('response', (h) => {
        answered = true;
        stream.off('error', onError);
        stream.on('error', noop);
        const status = Number(h[':status']);
        if (status === 200) {
          settled = true;
          return resolve({ ok: true, stream });
        }
        let body = '';
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => {
          if (body.length < 4096) body += c;
        });
        const done = () => {
          if (settled) return;
          settled = true;
          resolve({ ok: false, status, body });
        };
        stream.once('end', done);
        stream.once('close', done);
      });
    });
  }

  close(): void {
    for (const list of this.#pools.values()) for (const p of list) p.session.destroy();
    this.#pools.clear();
  }

  async #session(target: HboneTarget): Promise<Pooled> {
    const key = `${this.identity}|${target.identity}|${target.address}`;
    const list = this.#pools.get(key) ?? [];
    const usable = list.find((p) => p.generation === this.#generation && !p.session.closed && !p.session.destroyed
      && p.active < (p.session.remoteSettings.maxConcurrentStreams ?? 100));
    if (usable) return usable;
    // Concurrent first requests share one handshake.
    const pending = this.#connecting.get(key);
    if (pending) return pending;
    const opening = this.#dial(target).then((session) => {
      const p: Pooled = { session, generation: this.#generation, active: 0 };
      const l = this.#pools.get(key) ?? [];
      l.push(p);
      this.#pools.set(key, l);
      const stop = startKeepalive(session, this.#keepalive.intervalMs, this.#keepalive.timeoutMs);
      session.once('close', () => {
        stop();
        const cur = this.#pools.get(key) ?? [];
        const rest = cur.filter((x) => x !== p);
        if (rest.length) this.#pools.set(key, rest);
        else this.#pools.delete(key);
      });
      session.once('goaway', () => session.close());
      return p;
    }).finally(() => this.#connecting.delete(key));
    this.#connecting.set(key, opening);
    return opening;
  }

  #dial(target: HboneTarget): Promise<ClientHttp2Session> {
    const { host, port } = splitHostPort(target.address);
    const tls = this.#tls;
    return new Promise((resolve, reject) => {
      const session = h2connect(`https://${target.address}`, {
        // ztunnel: TLS 1.3, ALPN h2, no SNI, the waypoint's SPIFFE ID checked instead of a hostname.
        createConnection: () => tlsConnect({
          host, port, cert: tls.cert, key: tls.key, ca: tls.ca, ALPNProtocols: ['h2'],
          minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', servername: '',
          checkServerIdentity: (_h: string, cert: PeerCertificate) => checkPeer(cert, target.identity),
        }),
        settings: { initialWindowSize: 1 << 20, enablePush: false },
      });
      const onError = (err: Error) => {
        session.destroy();
        reject(err);
      };
      session.once('error', onError);
      session.once('connect', () => {
        session.off('error', onError);
        session.on('error', () => {});
        session.setLocalWindowSize(16 << 20);
        resolve(session);
      });
    });
  }
}

function checkPeer(cert: PeerCertificate, expected: string): Error | undefined {
  const got = identityFromSan(cert.subjectaltname)?.uri;
  if (got === expected) return undefined;
  return new Error(`the waypoint presented ${got ?? 'no SPIFFE ID'}, expected ${expected}`);
}

function identityOf(pem: string): string {
  try {
    return identityFromSan(new X509Certificate(pem).subjectAltName)?.uri ?? '';
  } catch {
    return '';
  }
}

function splitHostPort(a: string): { host: string; port: number } {
  const colon = a.lastIndexOf(':');
  const host = a.slice(0, colon);
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(a.slice(colon + 1)) };
}

function noop(): void {}

