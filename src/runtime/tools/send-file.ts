// The send_file tool: reads a file of the workspace here, inside the sandbox, and hands its bytes to the host,
// which delivers them with the reply (a Telegram document, a Slack upload, …). The host never sees a path.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { basename, isAbsolute, relative, resolve } from 'node:path';
import { MAX_SEND_FILE_BYTES, SendFileInput } from '../../protocol/requests.ts';
import type { Tool, ToolResult } from './types.ts';
import { errorText, fail } from './types.ts';

const NO_HOST = 'this tool needs the corral host service (corral up); it is not available here';
const MIB = 1024 * 1024;

const inside = (root: string, path: string): boolean => {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/**
 * The workspace file `path` names, or why it is refused: the path must stay inside the workspace both as written
 * and after symlinks are resolved. (The sandbox is the real boundary; this keeps the tool to what it is for.)
 */
export async function workspaceFile(workspace: string, path: string): Promise<string | ToolResult> {
  const root = resolve(workspace);
  const wanted = resolve(root, path);
  if (!inside(root, wanted) || wanted === root)
    return fail(
      `${path} is not a file inside the workspace; give a path relative to it, e.g. out/report.pdf`,
    );
  let real: string;
  try {
    real = await realpath(wanted);
  } catch (err) {
    return fail(`cannot send ${path}: ${errorText(err)}`);
  }
  if (!inside(await realpath(root), real))
    return fail(`${path} leads outside the workspace (a symlink?); only workspace files can be sent`);
  return real;
}

async function readCapped(file: string, shown: string): Promise<Buffer | ToolResult> {
  // O_NOFOLLOW: the checked path must not have become a symlink since; O_NONBLOCK: a FIFO must not hang the tool
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    if (!st.isFile()) return fail(`${shown} is not a regular file`);
    if (st.size > MAX_SEND_FILE_BYTES)
      return fail(
        `${shown} is ${(st.size / MIB).toFixed(1)} MiB; files up to ${MAX_SEND_FILE_BYTES / MIB} MiB can be sent ` +
          '(compress or split it)',
      );
    // read one byte past the cap, so a file that grew after stat() is still caught
    const buf = Buffer.alloc(Math.min(st.size, MAX_SEND_FILE_BYTES) + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === buf.length) break;
    }
    if (got > MAX_SEND_FILE_BYTES)
      return fail(`${shown} grew past ${MAX_SEND_FILE_BYTES / MIB} MiB while it was read`);
    return buf.subarray(0, got);
  } finally {
    await handle.close();
  }
}

export const sendFileTool: Tool<typeof SendFileInput> = {
  name: 'send_file',
  description:
    `Send a file from the workspace to the person you are talking with (as a document in their chat, or a ` +
    `download), up to ${MAX_SEND_FILE_BYTES / MIB} MiB. It is delivered with your reply, after the turn ends.`,
  input: SendFileInput,
  run: async (input, ctx, signal) => {
    if (!ctx.host) return fail(NO_HOST);
    const file = await workspaceFile(ctx.workspace, input.path);
    if (typeof file !== 'string') return file;
    let bytes: Buffer | ToolResult;
    try {
      bytes = await readCapped(file, input.path);
    } catch (err) {
      return fail(`cannot read ${input.path}: ${errorText(err)}`);
    }
    if (!Buffer.isBuffer(bytes)) return bytes;
    const request = {
      action: 'send_file' as const,
      name: basename(file),
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      ...(input.caption === undefined ? {} : { caption: input.caption }),
    };
    return ctx.host(request, signal, bytes);
  },
};
