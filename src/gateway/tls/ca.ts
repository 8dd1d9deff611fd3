// The per-install CA that lets the gateway terminate TLS for hosts with a bound secret: created once (at
// `corral init` or first use), key mode 0600 on the host only, certificate public and trusted in every sandbox.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';
import { CorralError } from '../../util/errors.ts';

export const CA_KEY_FILE = 'ca.key';
export const CA_CERT_FILE = 'ca.crt';
const CA_VALIDITY_YEARS = 10;
const RSA_BITS = 2048;

export interface CaFiles {
  certPem: string;
  keyPem: string;
}

export function caPaths(root: string): { cert: string; key: string } {
  return { cert: path.join(root, CA_CERT_FILE), key: path.join(root, CA_KEY_FILE) };
}

/** A positive serial of 16 random bytes (the top bit cleared: DER integers are signed). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString('hex');
}

/** An RSA key made by Node's native crypto (forge's pure-JS key generation is slow), as a forge key pair. */
export function nativeKeyPair(): {
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
} {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: RSA_BITS,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return {
    privateKey: forge.pki.privateKeyFromPem(privateKey),
    publicKey: forge.pki.publicKeyFromPem(publicKey),
  };
}

function createCaPem(): CaFiles {
  const keys = nativeKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(Date.now() + CA_VALIDITY_YEARS * 365 * 24 * 60 * 60 * 1000);
  const name = [
    { name: 'commonName', value: `corral gateway CA ${randomUUID().slice(0, 8)}` },
    { name: 'organizationName', value: 'corral (this install only)' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

/** Reads the CA, creating it when both files are absent; refuses a key file others can read or a symlink. */
export function loadOrCreateCa(root: string): CaFiles {
  const p = caPaths(root);
  if (!fs.existsSync(p.key) && !fs.existsSync(p.cert)) {
    const created = createCaPem();
    const flags =
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
    try {
      writeWith(p.key, flags, 0o600, created.keyPem);
      writeWith(p.cert, flags, 0o644, created.certPem);
      return created;
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST')) throw err;
      // another process created it first: read theirs below
    }
  }
  return readCa(p);
}

function writeWith(file: string, flags: number, mode: number, text: string): void {
  const fd = fs.openSync(file, flags, mode);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function readCa(p: { cert: string; key: string }): CaFiles {
  let fd: number;
  try {
    fd = fs.openSync(p.key, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (cause) {
    throw new CorralError('ca_unreadable', `cannot read the gateway CA key ${p.key}`, 'run: corral init', {
      cause,
    });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || (st.mode & 0o077) !== 0)
      throw new CorralError(
        'ca_insecure',
        `refusing to use the gateway CA key ${p.key}: not a private regular file`,
        `chmod 600 ${p.key}`,
      );
    const keyPem = fs.readFileSync(fd, 'utf8');
    return { keyPem, certPem: fs.readFileSync(p.cert, 'utf8') };
  } finally {
    fs.closeSync(fd);
  }
}
