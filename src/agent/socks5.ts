// The agent's SOCKS5 listener (127.0.0.1:15080, as ztunnel's): RFC 1928, no authentication,
// CONNECT only. Every destination, domain or IP, goes through the same dial() as the HTTP proxy.
import { listen } from '../dataplane/listen.ts';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { dial, join, type DialDeps } from './dial.ts';

// RFC 1928 §6 reply codes.
const REP = { ok: 0, failure: 1, notAllowed: 2, hostUnreachable: 4, refused: 5, cmdUnsupported: 7, atypUnsupported: 8 } as const;

export class AgentSocks5 {
  #server: Server;

  constructor(deps: DialDeps) {
    this.#server = createServer({ allowHalfOpen: true }, (s) => void handle(deps, s).catch(() => s.destroy()));
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return listen(this.#server, port, host);
  }

  close(): Promise<void> {
    return new Promise((r) => this.#server.close(() => r()));
  }
}

async function handle(deps: DialDeps, s: Socket): Promise<void> {
  s.on('error', () => {});
  const read = reader(s);
  const [ver, nMethods] = await read(2);
  if (ver !== 5) return void s.destroy();
  const methods = await read(nMethods!);
  if (!methods.includes(0)) return void s.end(Buffer.from([5, 0xff]));
  s.write(Buffer.from([5, 0]));
  const [, cmd, , atyp] = await read(4);
  let host: string;
  if (atyp === 1) host = [...await read(4)].join('.');
  else if (atyp === 3) host = (await read((await read(1))[0]!)).toString('latin1');
  else if (atyp === 4) host = ((await read(16)).toString('hex').match(/.{4}/g) ?? []).join(':').replace(/\b0+(?=\w)/g, '');
  else return void s.end(replyFrame(REP.atypUnsupported));
  const port = (await read(2)).readUInt16BE(0);
  if (cmd !== 1) return void s.end(replyFrame(REP.cmdUnsupported));
  const rest = read.rest();
  const r = await dial(deps, host, port, `${s.remoteAddress}:${s.remotePort}`);
  if (!r.ok) return void s.end(replyFrame(r.status === 403 ? REP.notAllowed : r.status >= 500 ? REP.hostUnreachable : REP.refused));
  s.write(replyFrame(REP.ok));
  if (rest.length) r.stream.write(rest);
  join(s, r.stream);
}

function replyFrame(rep: number): Buffer {
  return Buffer.from([5, rep, 0, 1, 0, 0, 0, 0, 0, 0]);
}

/** Exact-length reads off a socket during the handshake; `rest()` hands back what came early. */
function reader(s: Socket): ((n: number) => Promise<Buffer>) & { rest(): Buffer } {
  let buf = Buffer.alloc(0);
  let want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  const pump = () => {
    if (want && buf.length >= want.n) {
      const w = want;
      want = undefined;
      const out = buf.subarray(0, w.n);
      buf = buf.subarray(w.n);
      w.resolve(out);
    }
  };
  const onData = (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    if (buf.length > 1024) s.destroy(); // a handshake is < 300 bytes
    pump();
  };
  s.on('data', onData);
  s.once('end', () => want?.reject(new Error('client closed during the SOCKS handshake')));
  const fn = ((n: number) => new Promise<Buffer>((resolve, reject) => {
    want = { n, resolve, reject };
    pump();
  })) as ((n: number) => Promise<Buffer>) & { rest(): Buffer };
  fn.rest = () => {
    s.off('data', onData);
    s.pause();
    return buf;
  };
  return fn;
}
