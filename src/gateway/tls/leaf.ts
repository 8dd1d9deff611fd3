// Leaf certificates for intercepted hosts, signed by the install's CA and cached per host until near expiry.
// One leaf key serves every host: it never leaves the host process.
import net from 'node:net';
import tls from 'node:tls';
import type { SecureContext } from 'node:tls';
import forge from 'node-forge';
import type { CaFiles } from './ca.ts';
import { nativeKeyPair, randomSerial } from './ca.ts';

export const LEAF_VALIDITY_MS = 7 * 24 * 60 * 60 * 1000;
/** Re-issued this long before expiry, so a long-lived connection never sees an expired certificate. */
const LEAF_RENEW_BEFORE_MS = 24 * 60 * 60 * 1000;
const BACKDATE_MS = 60 * 60 * 1000;
/** Distinct hosts kept; the oldest is dropped past this (an agent cannot grow the cache without bound). */
const MAX_CACHED_LEAVES = 1024;

export interface LeafIssuer {
  contextFor(host: string): SecureContext;
}

export function createLeafIssuer(ca: CaFiles, clock: () => number = Date.now): LeafIssuer {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const leafKeys = nativeKeyPair();
  const keyPem = forge.pki.privateKeyToPem(leafKeys.privateKey);
  const cache = new Map<string, { context: SecureContext; renewAt: number }>();

  function issue(host: string): string {
    const cert = forge.pki.createCertificate();
    cert.publicKey = leafKeys.publicKey;
    cert.serialNumber = randomSerial();
    const now = clock();
    cert.validity.notBefore = new Date(now - BACKDATE_MS);
    cert.validity.notAfter = new Date(now + LEAF_VALIDITY_MS);
    cert.setSubject([{ name: 'commonName', value: host }]);
    cert.setIssuer(caCert.subject.attributes);
    const altName = net.isIP(host) ? { type: 7, ip: host } : { type: 2, value: host };
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [altName] },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    ]);
    cert.sign(caKey, forge.md.sha256.create());
    return forge.pki.certificateToPem(cert);
  }

  return {
    contextFor(host) {
      const hit = cache.get(host);
      if (hit && hit.renewAt > clock()) return hit.context;
      const context = tls.createSecureContext({ key: keyPem, cert: issue(host) + ca.certPem });
      cache.delete(host);
      if (cache.size >= MAX_CACHED_LEAVES) {
        const oldest = cache.keys().next().value;
        if (oldest !== undefined) cache.delete(oldest);
      }
      cache.set(host, { context, renewAt: clock() + LEAF_VALIDITY_MS - LEAF_RENEW_BEFORE_MS });
      return context;
    },
  };
}
