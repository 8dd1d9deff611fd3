// send_file end to end: `corral up` runs the agent in a real bwrap sandbox; the stand-in model has it make a file,
// try to send what lies outside its workspace (refused), then send the file. Its bytes come out of the sandbox
// over the control stream, are stored with the reply, delivered to the webhook callback as base64, and download
// byte for byte from the API.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Script } from '../fixtures/model-server.ts';
import type { Up } from './daemon-harness.ts';
import { eventually, field, startReceiver, startUp, stopUp } from './daemon-harness.ts';
import { addProvider, createE2e, hasBwrap } from './harness.ts';

const NUMBERS = `${Array.from({ length: 400_000 }, (_, i) => String(i + 1)).join('\n')}\n`; // ~2.7 MB: 3 chunks

/** Each step follows from the last tool result; the final text reports it. */
const script: Script = (req) => {
  const last = req.lastToolResult;
  if (last === undefined) {
    if (req.lastUserText !== 'send the numbers')
      return { kind: 'text', text: `echo: ${req.lastUserText ?? ''}` };
    const command =
      'mkdir -p out && seq 1 400000 > out/numbers.txt && ln -sf /etc/passwd out/leak && ln -sfn / out/root';
    return { kind: 'tool', name: 'bash', input: { command } };
  }
  if (last.includes('[exit code 0]')) return { kind: 'tool', name: 'send_file', input: { path: 'out/leak' } };
  if (last.includes('leads outside the workspace') && !last.includes('root'))
    return { kind: 'tool', name: 'send_file', input: { path: 'out/root/etc/hostname' } };
  if (last.includes('leads outside the workspace'))
    return { kind: 'tool', name: 'send_file', input: { path: '../../etc/passwd' } };
  if (last.includes('not a file inside the workspace'))
    return {
      kind: 'tool',
      name: 'send_file',
      input: { path: '/workspace/out/numbers.txt', caption: 'one to 400000' },
    };
  return { kind: 'text', text: `done: ${last}` };
};

const FileJson = z.object({
  id: z.string(),
  name: z.string(),
  mime: z.string(),
  size: z.number(),
  sha256: z.string(),
  caption: z.string().nullable(),
  url: z.string(),
});

describe.skipIf(!hasBwrap)('send_file (bwrap)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  let up: Up | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    e = await createE2e({ script });
    await e.setup([
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'STAND_KEY'),
      [['secret', 'set', 'STAND_KEY'], 'sk-stand-in-files-e2e-5b8a'],
      [['agent', 'add', 'alpha', '--model', 'stand:claude-test']],
    ]);
    receiver = await startReceiver();
    up = await startUp(e, ['--idle-timeout', '30s', '--grace', '10s']);
  });
  afterAll(async () => {
    await stopUp(up);
    await receiver?.close();
    await e?.close();
  });

  it('delivers a file the agent made in its sandbox, and refuses paths that leave the workspace', async () => {
    const host = up ?? expect.fail('no host');
    const sent = await host.api('POST', '/v1/agents/alpha/messages', {
      text: 'send the numbers',
      callback: receiver.url,
    });
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    const id = field(sent.body, 'id');
    const m = await eventually(
      async () => {
        const r = await host.api('GET', `/v1/messages/${id}`);
        if (field(r.body, 'status') === 'failed') throw new Error(JSON.stringify(r.body));
        return field(r.body, 'status') === 'done' ? r.body : undefined;
      },
      'the reply',
      120_000,
    );
    const bytes = Buffer.from(NUMBERS);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(field(m, 'reply')).toBe(
      `done: numbers.txt (${bytes.length} bytes) will be delivered with your reply`,
    );

    // the refusals, as the model read them
    const outputs = e
      .db()
      .prepare("SELECT output, is_error FROM tool_calls WHERE name = 'send_file' ORDER BY rowid")
      .all();
    expect(outputs).toEqual([
      {
        output: 'out/leak leads outside the workspace (a symlink?); only workspace files can be sent',
        is_error: 1,
      },
      {
        output:
          'out/root/etc/hostname leads outside the workspace (a symlink?); only workspace files can be sent',
        is_error: 1,
      },
      {
        output:
          '../../etc/passwd is not a file inside the workspace; give a path relative to it, e.g. out/report.pdf',
        is_error: 1,
      },
      { output: `numbers.txt (${bytes.length} bytes) will be delivered with your reply`, is_error: 0 },
    ]);

    const [file] = z.array(FileJson).parse(z.object({ files: z.unknown() }).parse(m).files);
    expect(file).toMatchObject({
      name: 'numbers.txt',
      mime: 'text/plain',
      size: bytes.length,
      sha256,
      caption: 'one to 400000',
    });
    const download = await fetch(host.url + (file?.url ?? ''), {
      headers: { authorization: `Bearer ${fs.readFileSync(path.join(e.home, 'api-token'), 'utf8').trim()}` },
    });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(bytes)).toBe(true);

    const delivery = await eventually(
      () => receiver.deliveries.find((d) => d.key === `reply:${id}`),
      'the webhook delivery',
    );
    const files = z
      .array(FileJson.omit({ url: true }).extend({ content: z.string() }))
      .parse(delivery.body['files']);
    expect(files).toHaveLength(1);
    expect(Buffer.from(files[0]?.content ?? '', 'base64').equals(bytes)).toBe(true);
    expect(files[0]).toMatchObject({ name: 'numbers.txt', size: bytes.length, sha256 });
  });
});
