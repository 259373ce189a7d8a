import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { connect, createServer } from 'node:tls';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { daysFromNow, issueCert, makeCa, writePems } from '../helpers/certs.ts';
import { closeServer, listenLoopback, trackSockets } from '../helpers/lifecycle.ts';
import { tmpDir } from '../helpers/run.ts';

interface HandshakeResult {
  error: (Error & { code?: string }) | null;
  peerSubjectAltName?: string;
  serverSawClient?: { authorized: boolean; subjectAltName?: string };
}

/** Runs one real TLS handshake over loopback and reports how both sides saw it. */
async function handshake(server: TlsOptions, client: ConnectionOptions): Promise<HandshakeResult> {
  const tlsServer = createServer(server);
  const sockets = trackSockets(tlsServer);
  let serverSawClient: HandshakeResult['serverSawClient'];
  tlsServer.on('secureConnection', (socket) => {
    const peer = socket.getPeerCertificate();
    serverSawClient = { authorized: socket.authorized, subjectAltName: peer.subjectaltname };
    socket.end('hi');
  });
  tlsServer.on('tlsClientError', () => {});
  const port = await listenLoopback(tlsServer);
  try {
    return await new Promise<HandshakeResult>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, ...client }, () => {
        const peerSubjectAltName = socket.getPeerCertificate().subjectaltname;
        socket.once('data', () => resolve({ error: null, peerSubjectAltName, serverSawClient }));
      });
      socket.once('error', (error) => resolve({ error }));
    });
  } finally {
    await closeServer(tlsServer, sockets);
  }
}

describe('certs', () => {
  test('a leaf issued by the CA verifies against it, by DNS name and by IP', async () => {
    const ca = await makeCa();
    const leaf = await issueCert(ca, { dnsNames: ['httpbin.test'], ips: ['127.0.0.1'] });
    const byName = await handshake(leaf, { ca: ca.trust, servername: 'httpbin.test' });
    assert.equal(byName.error, null);
    assert.match(byName.peerSubjectAltName ?? '', /DNS:httpbin\.test/);
    const byIp = await handshake(leaf, { ca: ca.trust });
    assert.equal(byIp.error, null);
  });

  test('a chain through an intermediate verifies against the root alone', async () => {
    const root = await makeCa({ commonName: 'Root' });
    const intermediate = await makeCa({ commonName: 'Intermediate', parent: root });
    const leaf = await issueCert(intermediate, { dnsNames: ['deep.test'] });
    assert.equal(intermediate.trust, root.cert);
    const result = await handshake(leaf, { ca: root.trust, servername: 'deep.test' });
    assert.equal(result.error, null);
  });

  test('an expired leaf fails verification with CERT_HAS_EXPIRED', async () => {
    const ca = await makeCa();
    const leaf = await issueCert(ca, { dnsNames: ['old.test'], expired: true });
    const result = await handshake(leaf, { ca: ca.trust, servername: 'old.test' });
    assert.equal(result.error?.code, 'CERT_HAS_EXPIRED');
  });

  test('explicit validity windows are honoured', async () => {
    const ca = await makeCa();
    const leaf = await issueCert(ca, { notBefore: daysFromNow(1), notAfter: daysFromNow(2) });
    const parsed = new X509Certificate(leaf.leaf);
    assert.ok(new Date(parsed.validFrom) > new Date());
  });

  test('a leaf for another name fails hostname verification', async () => {
    const ca = await makeCa();
    const leaf = await issueCert(ca, { dnsNames: ['other.test'] });
    const result = await handshake(leaf, { ca: ca.trust, servername: 'httpbin.test' });
    assert.equal(result.error?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  test('a leaf from an unrelated CA is rejected', async () => {
    const [trusted, stranger] = await Promise.all([makeCa(), makeCa({ commonName: 'Stranger' })]);
    const leaf = await issueCert(stranger, { dnsNames: ['httpbin.test'] });
    const result = await handshake(leaf, { ca: trusted.trust, servername: 'httpbin.test' });
    assert.ok(result.error, 'handshake must fail');
    assert.notEqual(result.error.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  test('a SPIFFE client certificate is presented and verified in mutual TLS', async () => {
    const ca = await makeCa();
    const server = await issueCert(ca, { dnsNames: ['mtls.test'] });
    const spiffe = 'spiffe://cluster.local/ns/default/sa/sleep';
    const client = await issueCert(ca, { uris: [spiffe], isClient: true, commonName: 'sleep' });
    assert.match(new X509Certificate(client.leaf).subjectAltName ?? '', /URI:spiffe:\/\/cluster\.local/);
    const result = await handshake(
      { ...server, ca: ca.trust, requestCert: true, rejectUnauthorized: true },
      { ...client, ca: ca.trust, servername: 'mtls.test' },
    );
    assert.equal(result.error, null);
    assert.deepEqual(result.serverSawClient, { authorized: true, subjectAltName: `URI:${spiffe}` });
  });

  test('writePems writes <name>.crt and a private <name>.key', async (t) => {
    const dir = await tmpDir();
    t.after(() => dir.close());
    const ca = await makeCa();
    const server = await issueCert(ca, { dnsNames: ['a.test'] });
    const paths = await writePems(dir.path, { ca, server });
    assert.match(paths.server.cert, /server\.crt$/);
    assert.equal((await stat(paths.server.key)).mode & 0o777, 0o600);
    const written = new X509Certificate(await readFile(paths.ca.cert));
    assert.ok(written.ca);
  });
});
