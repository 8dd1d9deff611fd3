// The shared helpers of the channel port: splitting long replies and reconnect backoff.
import { describe, expect, it } from 'vitest';
import { reconnectDelayMs, splitText } from './types.ts';

describe('splitText', () => {
  it('keeps a short text whole', () => {
    expect(splitText('hello', 10)).toEqual(['hello']);
    expect(splitText('', 10)).toEqual(['']);
  });

  it('splits at a paragraph end before a line end or a word end', () => {
    const text = 'a'.repeat(60) + '\n\n' + 'b'.repeat(30) + '\n' + 'c'.repeat(30);
    const parts = splitText(text, 100);
    expect(parts).toEqual(['a'.repeat(60), 'b'.repeat(30) + '\n' + 'c'.repeat(30)]);
  });

  it('splits at word ends, every chunk within the limit, nothing lost', () => {
    const words = Array.from({ length: 2000 }, (_, i) => `word${i}`);
    const parts = splitText(words.join(' '), 4096);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(4096);
    expect(parts.join(' ').split(' ')).toEqual(words);
  });

  it('cuts hard when there is no break, never inside a surrogate pair', () => {
    const text = 'x'.repeat(9) + '😀' + 'y'.repeat(5);
    const parts = splitText(text, 10);
    expect(parts[0]).toBe('x'.repeat(9));
    expect(parts.join('')).toBe(text);
  });
});

describe('reconnectDelayMs', () => {
  it('doubles from 1 s up to 60 s with bounded jitter', () => {
    expect(reconnectDelayMs(1, () => 0)).toBe(1_000);
    expect(reconnectDelayMs(3, () => 0)).toBe(4_000);
    expect(reconnectDelayMs(30, () => 0)).toBe(60_000);
    expect(reconnectDelayMs(30, () => 1)).toBe(72_000);
  });
});
