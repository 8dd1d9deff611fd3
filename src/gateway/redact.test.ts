// The streaming redactor: every split of the input must give the same output as redacting it whole.
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { REDACTED, createRedactor, redactString, redactingStream } from './redact.ts';

const KEY = 'sk-ant-api03-SECRETkey_123';

function run(secrets: string[], chunks: string[]): string {
  const r = createRedactor(secrets);
  const out = chunks.map((c) => r.push(Buffer.from(c)));
  return Buffer.concat([...out, r.end()]).toString();
}

/** Every way of cutting `text` into three pieces. */
function splits(text: string): string[][] {
  const all: string[][] = [];
  for (let i = 0; i <= text.length; i++)
    for (let j = i; j <= text.length; j++) all.push([text.slice(0, i), text.slice(i, j), text.slice(j)]);
  return all;
}

describe('createRedactor', () => {
  it('replaces a key however the stream is split', () => {
    const text = `{"echo":"${KEY}","again":"x${KEY}${KEY}"}`;
    const want = `{"echo":"${REDACTED}","again":"x${REDACTED}${REDACTED}"}`;
    for (const parts of splits(text)) expect(run([KEY], parts)).toBe(want);
  });

  it('replaces a key delivered one byte at a time', () => {
    expect(run([KEY], [...`a${KEY}b`])).toBe(`a${REDACTED}b`);
  });

  it('finds a key that starts inside a false start', () => {
    // "sk-ant-" begins a key, fails, and the real key begins two bytes later.
    const text = `sk-ansk-ant-api03-SECRETkey_123!`;
    for (const parts of splits(text)) expect(run([KEY], parts)).toBe(`sk-an${REDACTED}!`);
  });

  it('holds back only a tail that could still become the key', () => {
    const r = createRedactor([KEY]);
    expect(r.push(Buffer.from('data: {"a":1}\n\n')).toString()).toBe('data: {"a":1}\n\n');
    expect(r.push(Buffer.from('text sk-ant')).toString()).toBe('text ');
    expect(r.push(Buffer.from('ique\n')).toString()).toBe('sk-antique\n');
    expect(r.push(Buffer.from('tail sk')).toString()).toBe('tail ');
    expect(r.end().toString()).toBe('sk');
  });

  it('handles several secrets and multi-byte text around them', () => {
    const text = `é${KEY}€Bearer other-secret✓`;
    for (const parts of splits(text))
      expect(run([KEY, 'other-secret'], parts)).toBe(`é${REDACTED}€Bearer ${REDACTED}✓`);
  });

  it('passes everything through when there is no secret', () => {
    expect(run([''], ['abc', 'def'])).toBe('abcdef');
  });
});

describe('redactString', () => {
  it('replaces every occurrence', () => {
    expect(redactString(`a ${KEY} b ${KEY}`, [KEY])).toBe(`a ${REDACTED} b ${REDACTED}`);
  });
});

describe('redactingStream', () => {
  it('redacts across stream chunks and flushes the held tail at the end', async () => {
    const source = Readable.from([Buffer.from(`x${KEY.slice(0, 9)}`), Buffer.from(`${KEY.slice(9)} sk-`)]);
    const out = await buffer(source.pipe(redactingStream([KEY])));
    expect(out.toString()).toBe(`x${REDACTED} sk-`);
  });
});
