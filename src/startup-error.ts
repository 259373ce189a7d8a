// What both a data plane and the primary's admin endpoints need when they bind: kept apart from
// data-plane.ts so that the primary of `run --concurrency N`, which serves no traffic, does not load
// the request path (listeners, undici, HBONE, policy) to get an error class.
import type { AddressInfo } from 'node:net';
import type { Diagnostic } from './model/diagnostic.ts';

export class StartupError extends Error {
  readonly diagnostics: readonly Diagnostic[];
  constructor(message: string, diagnostics: readonly Diagnostic[] = []) {
    super(message);
    this.diagnostics = diagnostics;
  }
}

export function authority(a: AddressInfo): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

export function bindError(name: string, flag: string, port: number, err: unknown): StartupError {
  const e = err as { code?: string; message: string };
  const hint = e.code === 'EADDRINUSE' ? `port ${port} is already in use; stop the other process or pass ${flag} <port>` : e.message;
  return new StartupError(`cannot listen for ${name}: ${hint}`);
}
