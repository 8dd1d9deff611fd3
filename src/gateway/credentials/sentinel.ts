// Sentinels: the unguessable placeholder an agent sees instead of a secret's value, one per (agent, secret).
// HMAC under a key derived from the store's secret key: stable across sandbox restarts, reveals nothing.
import { createHmac, hkdfSync } from 'node:crypto';

export const SENTINEL_PREFIX = 'corral-sentinel-';
const HKDF_INFO = 'corral-sentinel-v1';
const SENTINEL_KEY_BYTES = 32;
/** 160 bits: far beyond guessing, short enough for any header. */
const SENTINEL_HEX_CHARS = 40;

export type SentinelFor = (agent: string, secret: string) => string;

/** Derives the sentinel key from the store's secret key, so the sentinels never reuse that key directly. */
export function createSentinels(secretKey: Buffer): SentinelFor {
  const key = Buffer.from(hkdfSync('sha256', secretKey, Buffer.alloc(0), HKDF_INFO, SENTINEL_KEY_BYTES));
  return (agent, secret) =>
    SENTINEL_PREFIX +
    createHmac('sha256', key).update(`${agent}\0${secret}`).digest('hex').slice(0, SENTINEL_HEX_CHARS);
}
