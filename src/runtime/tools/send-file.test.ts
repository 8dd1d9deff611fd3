// send_file on its own: the bytes of a workspace file go to the host with its name, size and sha256; paths that
// leave the workspace (.., absolute, symlinks out) and things that are not regular files are refused.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HostRequest } from '../../protocol/requests.ts';
import { MAX_SEND_FILE_BYTES } from '../../protocol/requests.ts';
import { runTool } from './index.ts';
import type { ToolContext } from './types.ts';

let dir: string;
let ctx: ToolContext;
let asked: { request: HostRequest; attachment: Buffer | undefined }[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'corral-send-file-'));
  await mkdir(join(dir, 'ws/out'), { recursive: true });
  await writeFile(join(dir, 'secret.txt'), 'outside the workspace');
  asked = [];
  ctx = {
    workspace: join(dir, 'ws'),
    env: {},
    bridgePort: 1,
    host: (request, _signal, attachment) => {
      asked.push({ request, attachment });
      return Promise.resolve({ output: 'taken', isError: false });
    },
  };
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const send = (input: Record<string, unknown>) =>
  runTool(['send_file'], 'send_file', input, ctx, new AbortController().signal);

describe('send_file', () => {
  it('hands the file’s bytes, name, size and sha256 to the host', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 10, 13, 0x80]);
    await writeFile(join(ctx.workspace, 'out/report.bin'), bytes);
    expect(await send({ path: 'out/report.bin', caption: 'the report' })).toEqual({
      output: 'taken',
      isError: false,
    });
    expect(asked).toHaveLength(1);
    expect(asked[0]?.request).toEqual({
      action: 'send_file',
      name: 'report.bin',
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      caption: 'the report',
    });
    expect(asked[0]?.attachment?.equals(bytes)).toBe(true);
  });

  it('takes an absolute path that lies inside the workspace, and a symlink that stays inside', async () => {
    await writeFile(join(ctx.workspace, 'a.txt'), 'A');
    await symlink('../a.txt', join(ctx.workspace, 'out/link.txt'));
    expect((await send({ path: join(ctx.workspace, 'a.txt') })).isError).toBe(false);
    expect((await send({ path: 'out/link.txt' })).isError).toBe(false);
    expect(asked.map((a) => a.attachment?.toString())).toEqual(['A', 'A']);
    expect(asked[1]?.request).toMatchObject({ name: 'a.txt' });
  });

  it.each([
    ['../secret.txt', 'not a file inside the workspace'],
    ['out/../../secret.txt', 'not a file inside the workspace'],
    ['/etc/passwd', 'not a file inside the workspace'],
    ['.', 'not a file inside the workspace'],
  ])('refuses %s', async (path, why) => {
    const r = await send({ path });
    expect(r.isError).toBe(true);
    expect(r.output).toContain(why);
    expect(asked).toEqual([]);
  });

  it('refuses symlinks that lead out of the workspace, to a file or through a directory', async () => {
    await symlink(join(dir, 'secret.txt'), join(ctx.workspace, 'leak.txt'));
    await symlink(dir, join(ctx.workspace, 'up'));
    for (const path of ['leak.txt', 'up/secret.txt']) {
      const r = await send({ path });
      expect(r.isError).toBe(true);
      expect(r.output).toContain('leads outside the workspace');
    }
    expect(asked).toEqual([]);
  });

  it('refuses what is not a regular file: a directory, a FIFO, a missing file', async () => {
    execFileSync('mkfifo', [join(ctx.workspace, 'pipe')]);
    expect(await send({ path: 'out' })).toMatchObject({ isError: true, output: 'out is not a regular file' });
    expect(await send({ path: 'pipe' })).toMatchObject({
      isError: true,
      output: 'pipe is not a regular file',
    });
    const missing = await send({ path: 'nope.txt' });
    expect(missing.isError && missing.output).toContain('cannot send nope.txt: ENOENT');
    expect(asked).toEqual([]);
  });

  it('refuses a file over the size cap with a clear error, and sends one exactly at it', async () => {
    await writeFile(join(ctx.workspace, 'big'), '');
    await truncate(join(ctx.workspace, 'big'), MAX_SEND_FILE_BYTES + 1);
    expect(await send({ path: 'big' })).toEqual({
      output: 'big is 20.0 MiB; files up to 20 MiB can be sent (compress or split it)',
      isError: true,
    });
    await truncate(join(ctx.workspace, 'big'), MAX_SEND_FILE_BYTES);
    expect((await send({ path: 'big' })).isError).toBe(false);
    expect(asked[0]?.attachment?.length).toBe(MAX_SEND_FILE_BYTES);
  });

  it('says so when no host takes requests (corral run)', async () => {
    await writeFile(join(ctx.workspace, 'a.txt'), 'A');
    const { host: _host, ...bare } = ctx;
    const r = await runTool(
      ['send_file'],
      'send_file',
      { path: 'a.txt' },
      bare,
      new AbortController().signal,
    );
    expect(r).toMatchObject({ isError: true });
    expect(r.output).toContain('needs the corral host service');
  });
});
