// A raw TCP client for protocol tests: writes exactly the bytes given (no client library fixes them
// up) and collects every byte the server answers until it closes or goes quiet.
import { connect, type Socket } from 'node:net';

export interface RawResult {
  /** Everything received, as latin1 text. */
  readonly text: string;
  /** Status codes of the HTTP/1.1 responses found at line starts, in order. */
  readonly statuses: number[];
  /** The server ended or closed the connection (as opposed to going quiet for `idleMs`). */
  readonly closed: boolean;
}

export interface RawOptions {
  /** Pause between parts, so each lands in its own read on the server. Default 60 ms. */
  readonly gapMs?: number;
  /** Resolve after this long without bytes once every part was written and a byte came. Default 400 ms. */
  readonly idleMs?: number;
  /**
   * Before the first byte, wait this long instead of idleMs (default 5 s): a loaded machine may take
   * longer than idleMs to answer at all (a 40 KiB head under CI load did), and no answer is the exception.
   */
  readonly firstByteMs?: number;
  /** Called with the socket and the text so far on each received chunk; may write more. */
  readonly onData?: (socket: Socket, text: string) => void;
}

export function statusesOf(text: string): number[] {
  return [...text.matchAll(/(?:^|\r\n|\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}

/** Sends `parts` to host:port with a gap between them and collects the answer. */
export async function rawExchange(port: number, parts: readonly (string | Buffer)[], opts: RawOptions = {}): Promise<RawResult> {
  const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  return rawOnSocket(s, parts, opts);
}

export async function rawOnSocket(s: Socket, parts: readonly (string | Buffer)[], opts: RawOptions = {}): Promise<RawResult> {
  const { gapMs = 60, idleMs = 400, firstByteMs = 5000 } = opts;
  let text = '';
  let closed = false;
  let idle: NodeJS.Timeout | undefined;
  let writing = true;
  let arm = () => {};
  const done = new Promise<void>((resolve) => {
    arm = () => {
      if (idle) clearTimeout(idle);
      if (!writing) idle = setTimeout(resolve, text ? idleMs : Math.max(idleMs, firstByteMs));
    };
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      opts.onData?.(s, text);
      arm();
    });
    s.on('error', () => {});
    // The server closing its side (FIN) is the end of its answer, whether or not it waits for ours.
    const end = () => {
      closed = true;
      resolve();
    };
    s.once('end', end);
    s.once('close', end);
  });
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
    if (!s.destroyed && s.writable) s.write(parts[i]!);
  }
  writing = false;
  arm();
  await done;
  if (idle) clearTimeout(idle);
  s.destroy();
  return { text, statuses: statusesOf(text), closed };
}

/** Opens a CONNECT tunnel through the proxy and returns the socket once the proxy answered 200. */
export async function connectTunnel(port: number, authority: string): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  s.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  const head = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const onData = (c: Buffer) => {
      buf += c.toString('latin1');
      if (!buf.includes('\r\n\r\n')) return;
      s.off('data', onData);
      resolve(buf);
    };
    s.on('data', onData);
    s.once('close', () => reject(new Error(`tunnel closed: ${buf}`)));
  });
  if (!/^HTTP\/1\.1 200/.test(head)) throw new Error(`CONNECT ${authority} refused: ${head.split('\r\n')[0]}`);
  return s;
}
