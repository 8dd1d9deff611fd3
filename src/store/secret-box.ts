// Encryption of secret values at rest (AES-256-GCM) and the key file that lives outside the database.
// The secret's name is bound as additional data, so a ciphertext copied under another name will not open.
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CorralError } from '../util/errors.ts';

export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Versioned context in the AAD, so a future format can never be confused with this one. */
const AAD_CONTEXT = 'corral-secret-v1\0';

export interface Sealed {
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}
export interface SecretBox {
  seal(name: string, value: string): Sealed;
  open(name: string, sealed: Sealed): string;
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== KEY_BYTES) {
    throw new CorralError(
      'secret_key_invalid',
      `the secret key is ${key.length} bytes, expected ${KEY_BYTES}`,
    );
  }
  const aad = (name: string): Buffer => Buffer.from(AAD_CONTEXT + name, 'utf8');
  return {
    seal(name, value) {
      // A fresh random nonce per encryption: GCM must never reuse a (key, nonce) pair.
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(name));
      const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
      return { nonce, ciphertext, tag: cipher.getAuthTag() };
    },
    open(name, sealed) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, sealed.nonce, { authTagLength: TAG_BYTES });
        decipher.setAAD(aad(name));
        decipher.setAuthTag(sealed.tag);
        return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
      } catch (cause) {
        throw new CorralError(
          'secret_undecryptable',
          `secret "${name}" cannot be decrypted`,
          'the secret key file does not match this database (or the row was altered): restore the key file ' +
            'that was in use when the secret was stored, or set the secret again',
          { cause },
        );
      }
    },
  };
}

/**
 * Reads the 32-byte key at `keyPath`, creating it (mode 0600) when absent. Refuses a key file that is
 * a symlink, not a regular file, readable by group or others, or of the wrong size.
 */
export function loadOrCreateKey(keyPath: string): Buffer {
  return readKey(keyPath) ?? createKey(keyPath) ?? readExistingKey(keyPath);
}

/** The key, or undefined when the file does not exist. */
function readKey(keyPath: string): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(keyPath, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    if (errnoCode(err) === 'ELOOP')
      throw insecure(keyPath, 'is a symbolic link', `replace it with the file itself`);
    throw new CorralError('secret_key_unreadable', `cannot read the secret key ${keyPath}`, undefined, {
      cause: err,
    });
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw insecure(keyPath, 'is not a regular file', 'point corral at a regular key file');
    if ((st.mode & 0o077) !== 0) {
      const mode = (st.mode & 0o777).toString(8);
      throw insecure(keyPath, `is accessible by group or others (mode ${mode})`, `chmod 600 ${keyPath}`);
    }
    if (st.size !== KEY_BYTES) {
      throw insecure(
        keyPath,
        `is ${st.size} bytes, expected ${KEY_BYTES}`,
        'restore the original key file; a key of another size cannot decrypt this database',
      );
    }
    const key = Buffer.alloc(KEY_BYTES);
    const n = fs.readSync(fd, key, 0, KEY_BYTES, 0);
    if (n !== KEY_BYTES)
      throw insecure(keyPath, `was truncated while reading`, 'restore the original key file');
    return key;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes a new key to a private temporary file and hard-links it into place. link() fails when the
 * target exists, so two processes racing here never overwrite each other and no reader sees a half-written key.
 * Returns undefined when another process won the race.
 */
function createKey(keyPath: string): Buffer | undefined {
  fs.mkdirSync(path.dirname(keyPath), { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_BYTES);
  const tmp = `${keyPath}.${randomUUID()}.tmp`;
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
  const fd = fs.openSync(tmp, flags, 0o600);
  try {
    fs.writeSync(fd, key);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, keyPath);
    return key;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return undefined;
    throw err;
  } finally {
    fs.unlinkSync(tmp);
  }
}

function readExistingKey(keyPath: string): Buffer {
  const key = readKey(keyPath);
  if (key === undefined) throw new CorralError('secret_key_unreadable', `the secret key ${keyPath} vanished`);
  return key;
}

function insecure(keyPath: string, what: string, hint: string): CorralError {
  return new CorralError(
    'secret_key_insecure',
    `refusing to use the secret key ${keyPath}: it ${what}`,
    hint,
  );
}

function errnoCode(err: unknown): string | undefined {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
