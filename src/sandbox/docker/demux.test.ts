import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createDemuxer, demultiplex, DemuxError } from './demux.ts';

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function collect(chunks: Buffer[]): { stdout: string; stderr: string; clean: boolean } {
  const out = { stdout: '', stderr: '' };
  const d = createDemuxer((s, data) => (out[s] += data.toString()));
  for (const c of chunks) d.push(c);
  return { ...out, clean: d.clean };
}

describe('Docker stream demultiplexer', () => {
  const wire = Buffer.concat([frame(1, 'hello '), frame(2, 'oops\n'), frame(1, 'world\n'), frame(1, '')]);

  it('splits frames into stdout and stderr', () => {
    expect(collect([wire])).toEqual({ stdout: 'hello world\n', stderr: 'oops\n', clean: true });
  });

  it('gives the same result however the bytes are split, down to one byte at a time', () => {
    for (const size of [1, 2, 3, 7, 8, 9, 13]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < wire.length; i += size) chunks.push(wire.subarray(i, i + size));
      expect(collect(chunks)).toEqual({ stdout: 'hello world\n', stderr: 'oops\n', clean: true });
    }
  });

  it('says when the stream stopped inside a frame', () => {
    expect(collect([wire.subarray(0, 10)]).clean).toBe(false);
    expect(collect([wire.subarray(0, 4)]).clean).toBe(false);
  });

  it('refuses bytes that are not a Docker stream header', () => {
    expect(() => collect([Buffer.from('HTTP/1.1 200 OK\r\n')])).toThrow(DemuxError);
  });

  it('carries a large frame intact', () => {
    const big = 'x'.repeat(300_000);
    expect(collect([frame(2, big)]).stderr.length).toBe(300_000);
  });

  it('pipes into two streams and ends both when the source ends', async () => {
    const source = new PassThrough();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    demultiplex(source, stdout, stderr);
    const read = (s: PassThrough): Promise<string> =>
      new Promise((resolve) => {
        let text = '';
        s.on('data', (c: Buffer) => (text += c.toString()));
        s.once('end', () => resolve(text));
      });
    const both = Promise.all([read(stdout), read(stderr)]);
    source.end(wire);
    expect(await both).toEqual(['hello world\n', 'oops\n']);
  });
});
