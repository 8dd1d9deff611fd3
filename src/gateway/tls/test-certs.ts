// Test support: certificates for stand-in HTTPS origins, issued by a test CA (never the install's CA).
import forge from 'node-forge';
import type { CaFiles } from './ca.ts';
import { nativeKeyPair, randomSerial } from './ca.ts';

/** The origin's own certificate for 127.0.0.1, issued by the test CA (not the corral CA). */
export function originCert(ca: CaFiles): { key: string; cert: string } {
  const keys = nativeKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 24 * 60 * 60 * 1000);
  cert.setSubject([{ name: 'commonName', value: 'test origin' }]);
  cert.setIssuer(forge.pki.certificateFromPem(ca.certPem).subject.attributes);
  cert.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { key: forge.pki.privateKeyToPem(keys.privateKey), cert: forge.pki.certificateToPem(cert) };
}
