// send_file across the control stream: the in-process runtime reads a workspace file and sends it as file_chunk
// frames through the real NDJSON codec; the host's runTurn reassembles them and its collector checks them. Then
// the host-side checks on their own, fed what a hostile runtime could send.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startModelServer } from '../../test/fixtures/model-server.ts';
import type { FileChunkFrame, RuntimeFrame } from '../protocol/frames.ts';
import { FILE_CHUNK_BYTES, MAX_SEND_FILE_BYTES } from '../protocol/requests.ts';
import type { SendFileRequest } from '../protocol/requests.ts';
import { startRuntime } from '../runtime/runtime.ts';
import { silentLogger } from '../util/log.ts';
import { openControlChannel } from './control.ts';
import { createChunkAssembler } from './file-chunks.ts';
import { createFileCollector, MAX_TURN_FILES, mimeFor, safeFileName } from './outgoing-files.ts';
import { runTurn } from './turn.ts';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('send_file over the control stream', () => {
  let workspace: string;
  beforeEach(async () => {
    workspace = await mkdtemp(join(tmpdir(), 'corral-send-file-host-'));
  });
  afterEach(() => rm(workspace, { recursive: true, force: true }));

  it('carries a multi-chunk file from the runtime to the host intact', async () => {
    const bytes = randomBytes(2 * FILE_CHUNK_BYTES + 12_345);
    await mkdir(join(workspace, 'out'));
    await writeFile(join(workspace, 'out', 'data.bin'), bytes);
    const model = await startModelServer({
      script: (req) =>
        req.lastToolResult === undefined
          ? { kind: 'tool', name: 'send_file', input: { path: 'out/data.bin', caption: 'your data' } }
          : { kind: 'text', text: `done: ${req.lastToolResult}` },
    });
    const input = new PassThrough();
    const output = new PassThrough();
    const runtime = await startRuntime({
      input,
      output,
      gatewaySocket: join(workspace, 'no-gateway.sock'),
      workspace,
      env: {},
      modelBaseURL: () => model.url,
    });
    const channel = openControlChannel(
      {
        id: 'in-process',
        stdin: input,
        stdout: output,
        stderr: new PassThrough(),
        exited: new Promise(() => undefined),
        stop: () => Promise.resolve(),
      },
      silentLogger,
    );
    const frames: RuntimeFrame[] = [];
    channel.onFrame((f) => frames.push(f));
    const files = createFileCollector();
    try {
      const end = await runTurn(
        channel,
        {
          type: 'turn',
          turnId: 't1',
          instructions: '',
          messages: [{ role: 'user', content: [{ type: 'text', text: 'send me the data' }] }],
          model: { provider: 'p', kind: 'anthropic', model: 'm', maxTokens: 100 },
          tools: ['send_file'],
          maxSteps: 3,
        },
        {
          onEvent: () => undefined,
          onRequest: (r, attachment) =>
            Promise.resolve(
              r.action === 'send_file' ? files.add(r, attachment) : { output: 'no', isError: true },
            ),
        },
      );
      expect(end).toMatchObject({
        type: 'turn_end',
        text: `done: data.bin (${bytes.length} bytes) will be delivered with your reply`,
      });
      const chunks = frames.filter((f): f is FileChunkFrame => f.type === 'file_chunk');
      expect(chunks.map((c) => c.seq)).toEqual([0, 1, 2]);
      const [file] = files.files();
      expect(file).toMatchObject({
        name: 'data.bin',
        mime: 'application/octet-stream',
        size: bytes.length,
        sha256: sha(bytes),
        caption: 'your data',
      });
      expect(file?.content.equals(bytes)).toBe(true);
    } finally {
      input.end();
      await runtime.done;
      await model.close();
    }
  });
});

describe('chunk assembler', () => {
  const chunk = (requestId: string, seq: number, data: Buffer): FileChunkFrame => ({
    type: 'file_chunk',
    turnId: 't',
    requestId,
    seq,
    data: data.toString('base64'),
  });

  it('joins chunks in order and forgets them once taken; no chunks is an empty file', () => {
    const a = createChunkAssembler();
    a.add(chunk('r1', 0, Buffer.from('hel')));
    a.add(chunk('r2', 0, Buffer.from('other')));
    a.add(chunk('r1', 1, Buffer.from('lo')));
    expect(a.take('r1')).toEqual({ ok: true, bytes: Buffer.from('hello') });
    expect(a.take('r1')).toEqual({ ok: true, bytes: Buffer.alloc(0) });
    expect(a.take('r2')).toEqual({ ok: true, bytes: Buffer.from('other') });
  });

  it('refuses chunks out of order, a file over its cap, and a turn over its cap', () => {
    const a = createChunkAssembler({ file: 10, turn: 15 });
    a.add(chunk('gap', 1, Buffer.from('x')));
    expect(a.take('gap')).toEqual({ ok: false, reason: 'chunk 1 came where 0 was due' });
    a.add(chunk('big', 0, Buffer.alloc(8)));
    a.add(chunk('big', 1, Buffer.alloc(8)));
    expect(a.take('big')).toEqual({ ok: false, reason: 'it is over 10 bytes' });
    a.add(chunk('one', 0, Buffer.alloc(9)));
    a.add(chunk('two', 0, Buffer.alloc(9))); // 18 held: over the turn's 15
    expect(a.take('two')).toMatchObject({ ok: false });
    expect(a.take('one')).toEqual({ ok: true, bytes: Buffer.alloc(9) });
    // what was taken is no longer held: the turn has room again
    a.add(chunk('three', 0, Buffer.alloc(9)));
    expect(a.take('three')).toMatchObject({ ok: true });
  });
});

describe('file collector', () => {
  const request = (bytes: Buffer, over: Partial<SendFileRequest> = {}): SendFileRequest => ({
    action: 'send_file',
    name: 'a.txt',
    size: bytes.length,
    sha256: sha(bytes),
    ...over,
  });
  const ok = (bytes: Buffer) => ({ ok: true as const, bytes });

  it('checks size and sha256 against what arrived', () => {
    const c = createFileCollector();
    const bytes = Buffer.from('content');
    expect(c.add(request(bytes, { size: 99 }), ok(bytes))).toEqual({
      output: 'file not sent: 7 bytes arrived, 99 were announced',
      isError: true,
    });
    expect(c.add(request(bytes, { sha256: sha(Buffer.from('x')) }), ok(bytes)).output).toContain('damaged');
    expect(c.add(request(bytes), undefined).output).toContain('did not arrive');
    expect(c.add(request(Buffer.alloc(0)), ok(Buffer.alloc(0))).output).toBe('file not sent: it is empty');
    expect(c.add(request(bytes), { ok: false, reason: 'chunk 1 came where 0 was due' })).toEqual({
      output: 'file not sent: chunk 1 came where 0 was due',
      isError: true,
    });
    const big = Buffer.alloc(MAX_SEND_FILE_BYTES + 1);
    expect(c.add(request(big), ok(big)).output).toContain('over 20 MiB');
    expect(c.files()).toEqual([]);
  });

  it('sanitises the name, types it by its extension, and caps the files of a turn', () => {
    const c = createFileCollector();
    const bytes = Buffer.from('%PDF-1.4');
    expect(c.add(request(bytes, { name: '../../etc/re\u202Eport\u0007.pdf' }), ok(bytes)).isError).toBe(
      false,
    );
    expect(c.files()[0]).toMatchObject({ name: 'report.pdf', mime: 'application/pdf' });
    for (let i = 1; i < MAX_TURN_FILES; i++) c.add(request(bytes), ok(bytes));
    expect(c.add(request(bytes), ok(bytes))).toEqual({
      output: `file not sent: a reply carries at most ${MAX_TURN_FILES} files`,
      isError: true,
    });
    expect(c.files()).toHaveLength(MAX_TURN_FILES);
  });

  it('names and types', () => {
    expect(safeFileName('a\\b\\c.CSV')).toBe('c.CSV');
    expect(mimeFor('c.CSV')).toBe('text/csv');
    expect(safeFileName('..')).toBe('file');
    expect(safeFileName('\n\t')).toBe('file');
    expect(safeFileName('say "hi".txt')).toBe("say 'hi'.txt");
    const long = safeFileName(`${'é'.repeat(300)}.tar.gz`);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(200);
    expect(long.endsWith('é.gz')).toBe(true);
    expect(mimeFor('README')).toBe('application/octet-stream');
    expect(mimeFor('.png')).toBe('application/octet-stream');
  });
});
