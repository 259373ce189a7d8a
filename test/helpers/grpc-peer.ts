// A real gRPC stack as the peer (Python grpcio, Debian's python3-grpcio): grpc_peer.py serves and
// calls test.Echo without generated stubs. Suites skip with one line when grpcio is missing.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const PY = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./grpc_peer.py', import.meta.url));

/** Why a gRPC suite must skip, or false when grpcio is there. */
export const grpcioMissing: string | false = (() => {
  try {
    execFileSync(PY, ['-c', 'import grpc'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'python3-grpcio is not installed (apt-get install python3-grpcio)';
  }
})();

export interface GrpcServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the test.Echo server on 127.0.0.1; TLS (ALPN h2) when given PEM file paths. */
export async function startGrpcServer(tls?: { certFile: string; keyFile: string }): Promise<GrpcServer> {
  const args = [SCRIPT, 'server', ...(tls ? ['--cert', tls.certFile, '--key', tls.keyFile] : [])];
  const child = spawn(PY, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('grpc_peer.py server printed no port within 10 s')), 10_000);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(t);
      resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`grpc_peer.py server exited with ${code}`)));
  });
  return { port, close: () => stop(child) };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.stdin!.end(); // the server stops when its stdin closes
  });
}

export interface GrpcResult {
  /** grpc.StatusCode name: OK, NOT_FOUND, UNAVAILABLE... */
  readonly code: string;
  readonly details: string;
  readonly messages: string[];
}

export interface ClientOptions {
  /** host:port the channel dials (through the proxy, the CONNECT authority). */
  readonly target: string;
  /** An HTTP CONNECT proxy, as gRPC clients use one (grpc.http_proxy). */
  readonly proxy?: string;
  /** :authority when it differs from the target. */
  readonly authority?: string;
}

/** Runs `calls` ([method, request]) in order on one channel of a grpcio client process. */
export function grpcCalls(o: ClientOptions, calls: readonly (readonly [string, string])[]): Promise<GrpcResult[]> {
  const args = [SCRIPT, 'client', '--target', o.target, ...(o.proxy ? ['--proxy', o.proxy] : []), ...(o.authority ? ['--authority', o.authority] : []), JSON.stringify(calls)];
  return new Promise((resolve, reject) => {
    execFile(PY, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`grpc_peer.py client failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout) as GrpcResult[]);
    });
  });
}
