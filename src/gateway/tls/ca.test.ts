// The install CA and its leaves: created once with a private key, reused, refused when exposed; leaves
// verify against the CA for names and IPs, are cached per host and re-issued before they expire.
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caPaths, loadOrCreateCa } from './ca.ts';
import { createLeafIssuer, LEAF_VALIDITY_MS } from './leaf.ts';

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-ca-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The leaf a TLS server context presents, read back by a real handshake over a socket pair in memory. */
async function presented(
  context: tls.SecureContext,
  servername: string,
  ca: string,
): Promise<X509Certificate> {
  // As the gateway does: a TLS server socket over a plain one, with the context given directly.
  const server = net.createServer((raw) => {
    const s = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    s.on('error', () => raw.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  try {
    return await new Promise((resolve, reject) => {
      const socket = tls.connect({ port: address.port, host: '127.0.0.1', servername, ca }, () => {
        const raw = socket.getPeerX509Certificate();
        socket.destroy();
        if (raw) resolve(raw);
        else reject(new Error('no certificate'));
      });
      socket.on('error', reject);
    });
  } finally {
    server.close();
  }
}

describe('install CA', () => {
  it('is created with the key 0600 and the certificate public, then reused as is', () => {
    const first = loadOrCreateCa(dir);
    const p = caPaths(dir);
    expect(fs.statSync(p.key).mode & 0o777).toBe(0o600);
    expect(fs.statSync(p.cert).mode & 0o777).toBe(0o644);
    expect(loadOrCreateCa(dir)).toEqual(first);
    const cert = new X509Certificate(first.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
  });

  it('refuses a key others can read, or a symlink', () => {
    loadOrCreateCa(dir);
    fs.chmodSync(caPaths(dir).key, 0o644);
    expect(() => loadOrCreateCa(dir)).toThrow(/not a private regular file/);
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-ca-'));
    try {
      fs.writeFileSync(path.join(other, 'ca.crt'), '');
      fs.symlinkSync(caPaths(dir).key, path.join(other, 'ca.key'));
      expect(() => loadOrCreateCa(other)).toThrow(/cannot read the gateway CA key/);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('leaf certificates', () => {
  it('verify against the CA for a host name and for an IP, with the name in the SAN', async () => {
    const ca = loadOrCreateCa(dir);
    const issuer = createLeafIssuer(ca);
    const byName = await presented(issuer.contextFor('api.example.test'), 'api.example.test', ca.certPem);
    expect(byName.subjectAltName).toBe('DNS:api.example.test');
    expect(byName.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    const byIp = await presented(issuer.contextFor('127.0.0.1'), '', ca.certPem);
    expect(byIp.subjectAltName).toBe('IP Address:127.0.0.1');
  });

  it('are cached per host and re-issued before they expire', () => {
    let now = Date.now();
    const issuer = createLeafIssuer(loadOrCreateCa(dir), () => now);
    const a = issuer.contextFor('a.test');
    expect(issuer.contextFor('a.test')).toBe(a);
    expect(issuer.contextFor('b.test')).not.toBe(a);
    now += LEAF_VALIDITY_MS;
    expect(issuer.contextFor('a.test')).not.toBe(a);
  });
});
