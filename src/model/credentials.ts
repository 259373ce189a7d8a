// DestinationRule `credentialName` Secrets, as Istio reads them (pilot/pkg/credentials/kube/secrets.go):
// - key pair: `cert`+`key` (generic Secret) first, else `tls.crt`+`tls.key`;
// - CA: from the companion Secret `<name>-cacert` when it exists, else from the Secret itself, key
//   `cacert` first, else `ca.crt`. No CA anywhere: the system CAs verify the server (as with files).
// Pure: the sources (a folder, or the API server) hand in each Secret's data as text.

/** A Secret's data (keys -> PEM text); null when the Secret does not exist. */
export type SecretData = Readonly<Record<string, string>> | null;

export interface TlsMaterial {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/**
 * Where credentialName Secrets come from at run time. `lookup` is called on every new upstream TLS
 * connection, so it must be cheap; a Secret that changes is seen by the next connection.
 * undefined `main` means "not read yet" (a watch still listing), null means "does not exist".
 */
export interface CredentialProvider {
  lookup(namespace: string, name: string): { readonly main: SecretData | undefined; readonly cacert: SecretData | undefined };
}

const present = (d: Readonly<Record<string, string>>, ...keys: string[]) => keys.every((k) => !!d[k]);
const has = (d: Readonly<Record<string, string>>, ...keys: string[]) => keys.every((k) => k in d);

function keysFound(d: Readonly<Record<string, string>>): string {
  const keys = Object.keys(d).sort();
  if (!keys.length) return 'none';
  return keys.length < 4 ? keys.join(', ') : `${keys.slice(0, 3).join(', ')}, and ${keys.length - 3} more`;
}

/** The key pair of a Secret, or why there is none (Istio's messages). */
export function keyAndCert(d: Readonly<Record<string, string>>): { cert: string; key: string } | string {
  if (present(d, 'cert', 'key')) return { cert: d.cert!, key: d.key! };
  if (present(d, 'tls.crt', 'tls.key')) return { cert: d['tls.crt']!, key: d['tls.key']! };
  if (has(d, 'cert', 'key')) return 'found keys "cert" and "key", but they were empty';
  if (has(d, 'tls.crt', 'tls.key')) return 'found keys "tls.crt" and "tls.key", but they were empty';
  return `found the Secret, but not the keys (cert and key) or (tls.crt and tls.key); found: ${keysFound(d)}`;
}

function caOf(d: Readonly<Record<string, string>>): string | undefined {
  return d.cacert || d['ca.crt'] || undefined;
}

/**
 * The material for one connection, or an operator-facing reason why the connection must fail
 * (fail closed, as a missing certificate file does). `mutual`: the key pair is required.
 */
export function credentialMaterial(ref: string, main: SecretData | undefined, cacert: SecretData | undefined, mutual: boolean): TlsMaterial | string {
  if (main === undefined) return `Secret ${ref} (credentialName) is not read from the API server yet; retry shortly`;
  const ca = (cacert ? caOf(cacert) : undefined) ?? (main ? caOf(main) : undefined);
  if (!mutual) {
    // SIMPLE needs only a CA; a Secret that does not exist at all is still an error (a typo).
    if (main === null && !cacert) return `Secret ${ref} (credentialName) not found; create it (kubectl create secret generic ... --from-file=ca.crt=...) or fix credentialName`;
    return ca ? { ca } : {};
  }
  if (main === null) return `Secret ${ref} (credentialName) not found; create it (kubectl create secret tls ... --cert --key) or fix credentialName`;
  const pair = keyAndCert(main);
  if (typeof pair === 'string') return `Secret ${ref} (credentialName): ${pair}`;
  return ca ? { ...pair, ca } : pair;
}
