// Tests for secret sealing (AES-256-GCM bound to the name) and the key file's creation and safety checks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorralError } from '../util/errors.ts';
import { createSecretBox, KEY_BYTES, loadOrCreateKey } from './secret-box.ts';

function corralError(fn: () => unknown): CorralError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CorralError) return err;
    throw err;
  }
  throw new Error('expected a CorralError, nothing was thrown');
}

describe('createSecretBox', () => {
  const key = randomBytes(KEY_BYTES);

  it('round-trips a value, with a fresh nonce each time', () => {
    const box = createSecretBox(key);
    const a = box.seal('api', 'sk-live-ünïcode');
    const b = box.seal('api', 'sk-live-ünïcode');
    expect(box.open('api', a)).toBe('sk-live-ünïcode');
    expect(a.nonce).toHaveLength(12);
    expect(a.tag).toHaveLength(16);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.includes(Buffer.from('sk-live'))).toBe(false);
  });

  it('fails with secret_undecryptable under another key', () => {
    const sealed = createSecretBox(key).seal('api', 'v');
    const err = corralError(() => createSecretBox(randomBytes(KEY_BYTES)).open('api', sealed));
    expect(err.code).toBe('secret_undecryptable');
    expect(err.hint).toMatch(/key file does not match this database/);
  });

  it('binds the name: a ciphertext moved to another name does not open', () => {
    const box = createSecretBox(key);
    const sealed = box.seal('github', 'token');
    expect(corralError(() => box.open('slack', sealed)).code).toBe('secret_undecryptable');
  });

  it('detects a flipped bit in the ciphertext or tag', () => {
    const box = createSecretBox(key);
    const sealed = box.seal('n', 'value');
    const ciphertext = Buffer.from(sealed.ciphertext);
    ciphertext[0] = (ciphertext[0] ?? 0) ^ 1;
    expect(corralError(() => box.open('n', { ...sealed, ciphertext })).code).toBe('secret_undecryptable');
    const tag = Buffer.from(sealed.tag);
    tag[0] = (tag[0] ?? 0) ^ 1;
    expect(corralError(() => box.open('n', { ...sealed, tag })).code).toBe('secret_undecryptable');
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(corralError(() => createSecretBox(randomBytes(16))).code).toBe('secret_key_invalid');
  });
});

describe('loadOrCreateKey', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-key-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates a 32-byte key with mode 0600, in a new directory, and returns the same key later', () => {
    const keyPath = path.join(dir, 'nested', 'secret.key');
    const key = loadOrCreateKey(keyPath);
    expect(key).toHaveLength(32);
    expect(fs.statSync(keyPath).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(keyPath).equals(key)).toBe(true);
    expect(loadOrCreateKey(keyPath).equals(key)).toBe(true);
    // No temporary files are left behind.
    expect(fs.readdirSync(path.dirname(keyPath))).toEqual(['secret.key']);
  });

  it('creates distinct keys for distinct paths', () => {
    expect(loadOrCreateKey(path.join(dir, 'a')).equals(loadOrCreateKey(path.join(dir, 'b')))).toBe(false);
  });

  it('refuses a key readable by group or others, with a chmod hint, and does not replace it', () => {
    const keyPath = path.join(dir, 'secret.key');
    const original = randomBytes(32);
    fs.writeFileSync(keyPath, original, { mode: 0o644 });
    fs.chmodSync(keyPath, 0o644);
    const err = corralError(() => loadOrCreateKey(keyPath));
    expect(err.code).toBe('secret_key_insecure');
    expect(err.hint).toBe(`chmod 600 ${keyPath}`);
    expect(fs.readFileSync(keyPath).equals(original)).toBe(true);
    fs.chmodSync(keyPath, 0o640);
    expect(corralError(() => loadOrCreateKey(keyPath)).code).toBe('secret_key_insecure');
    fs.chmodSync(keyPath, 0o600);
    expect(loadOrCreateKey(keyPath).equals(original)).toBe(true);
  });

  it('refuses a key of the wrong size', () => {
    const keyPath = path.join(dir, 'secret.key');
    fs.writeFileSync(keyPath, randomBytes(31), { mode: 0o600 });
    const err = corralError(() => loadOrCreateKey(keyPath));
    expect(err.code).toBe('secret_key_insecure');
    expect(err.message).toMatch(/31 bytes, expected 32/);
  });

  it('refuses a symlink, even to a valid private key', () => {
    const real = path.join(dir, 'real.key');
    fs.writeFileSync(real, randomBytes(32), { mode: 0o600 });
    const link = path.join(dir, 'secret.key');
    fs.symlinkSync(real, link);
    const err = corralError(() => loadOrCreateKey(link));
    expect(err.code).toBe('secret_key_insecure');
    expect(err.message).toMatch(/symbolic link/);
  });

  it('refuses a dangling symlink instead of creating a key through it', () => {
    const target = path.join(dir, 'elsewhere.key');
    const link = path.join(dir, 'secret.key');
    fs.symlinkSync(target, link);
    expect(corralError(() => loadOrCreateKey(link)).code).toBe('secret_key_insecure');
    expect(fs.existsSync(target)).toBe(false);
  });

  it('refuses a directory', () => {
    const keyPath = path.join(dir, 'secret.key');
    fs.mkdirSync(keyPath, { mode: 0o700 });
    expect(corralError(() => loadOrCreateKey(keyPath)).code).toBe('secret_key_insecure');
  });
});
