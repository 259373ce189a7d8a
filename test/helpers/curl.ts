// The real curl binary as a client, because it is what operators use against the proxy and because it
// exercises absolute-form requests, CONNECT and TLS the way the wider world does, not the way Node does.

import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface CurlResult {
  /** curl's exit code: 0 ok, 7 connect refused, 28 timeout, 35 TLS, 52 empty reply, 56 recv error. */
  code: number;
  /** Response body (with whatever else the arguments print), the status marker stripped off. */
  stdout: string;
  stderr: string;
  /** %{http_code}: 0 when no response arrived; null if the caller passed their own --write-out. */
  status: number | null;
}

export interface CurlOptions {
  /** Kills curl and rejects after this long. Use curl's own --max-time to test timeouts. */
  timeoutMs?: number;
  env?: Readonly<Record<string, string>>;
}

const STATUS_MARKER = '\n--curl-http-code:';
// Proxy variables in the developer's or CI's environment would silently reroute loopback requests.
const PROXY_ENV = ['http_proxy', 'https_proxy', 'all_proxy', 'no_proxy'];

let curlPath: string | null | undefined;

/** Whether a curl binary is on PATH, for `test(..., { skip: !hasCurl() && 'no curl' })`. */
export function hasCurl(): boolean {
  curlPath ??= findOnPath('curl');
  return curlPath !== null;
}

/** Runs curl with `args`; resolves on any exit code and rejects only if curl cannot run or times out. */
export function curl(args: readonly string[], opts: CurlOptions = {}): Promise<CurlResult> {
  const ownWriteOut = args.some((a) => a === '-w' || a.startsWith('--write-out'));
  // -q (which must come first) skips ~/.curlrc; -sS hides the progress meter but keeps errors.
  const fullArgs = ['-q', '-sS', ...args, ...(ownWriteOut ? [] : ['--write-out', `${STATUS_MARKER}%{http_code}`])];
  const timeoutMs = opts.timeoutMs ?? 15_000;
  return new Promise((resolve, reject) => {
    const options = { env: curlEnv(opts.env), timeout: timeoutMs, killSignal: 'SIGKILL' as const, maxBuffer: 64 << 20 };
    execFile('curl', fullArgs, options, (err, stdout, stderr) => {
      const failure = err as (NodeJS.ErrnoException & { killed?: boolean }) | null;
      if (failure && typeof failure.code !== 'number') {
        const why = failure.killed ? `timed out after ${timeoutMs}ms` : failure.message;
        reject(new Error(`curl ${fullArgs.join(' ')}: ${why}\n${stderr}`));
        return;
      }
      resolve({ code: failure ? Number(failure.code) : 0, stderr, ...splitStatus(stdout, ownWriteOut) });
    });
  });
}

function splitStatus(stdout: string, ownWriteOut: boolean): { stdout: string; status: number | null } {
  const at = stdout.lastIndexOf(STATUS_MARKER);
  if (ownWriteOut || at < 0) return { stdout, status: null };
  return { stdout: stdout.slice(0, at), status: Number(stdout.slice(at + STATUS_MARKER.length)) };
}

function curlEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (PROXY_ENV.includes(name.toLowerCase())) delete env[name];
  }
  return { ...env, ...extra };
}

function findOnPath(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}
