// The runtime's own SHA-256 against node:crypto's, which the host uses to judge the environment digest.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from './sha256.ts';

const reference = (v: string): string => crypto.createHash('sha256').update(v).digest('hex');

describe('sha256Hex', () => {
  it('gives the published digests', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('agrees with node:crypto around every padding boundary and across blocks', () => {
    for (let n = 0; n <= 200; n++) {
      const v = 'x'.repeat(n);
      expect(sha256Hex(v), `length ${n}`).toBe(reference(v));
    }
    const long = 'y'.repeat(100_000);
    expect(sha256Hex(long)).toBe(reference(long));
  });

  it('hashes the UTF-8 bytes of any text, as node:crypto does', () => {
    const samples = [
      'é',
      '日本語',
      '🙂 emoji',
      '\u0000nul',
      'a\nb\r\n',
      'ä'.repeat(100),
      'lone \ud800 surrogate',
    ];
    for (let i = 0; i < 300; i++)
      samples.push(crypto.randomBytes(1 + (i % 150)).toString(i % 2 === 0 ? 'latin1' : 'base64'));
    for (const v of samples) expect(sha256Hex(v)).toBe(reference(v));
  });
});
