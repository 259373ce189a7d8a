// One interface for "the current key pair and trust bundle", whoever supplies it: files reloaded on
// change (`--hbone-cert`), or istiod's CA (`--ca-address`). Listeners read `current` when they start
// and swap on `onChange`; a swap affects new handshakes only, so open tunnels never break.
import type { TlsMaterial } from '../hbone/tls-files.ts';

export type { TlsMaterial };

export interface IdentitySource {
  readonly current: TlsMaterial;
  /** Called with each new set, after it was checked (cert matches key, bundle parses). */
  onChange(listener: (m: TlsMaterial) => void): void;
  close(): void;
}

/** Splits a PEM bundle into its certificates (normalised: one block each, trailing newline). */
export function pemCertificates(bundle: string): string[] {
  return [...bundle.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => `${m[0]}\n`);
}

/** Joins bundles, dropping repeated certificates (compared without whitespace). */
export function mergeBundles(...bundles: string[]): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const c of bundles.flatMap(pemCertificates)) {
    const k = c.replace(/\s+/g, '');
    if (!seen.has(k)) {
      seen.add(k);
      out.push(c);
    }
  }
  return out.join('');
}
