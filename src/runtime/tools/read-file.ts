// The read_file tool: returns a text file's contents, cut at a fixed size with a note saying so.
import { open } from 'node:fs/promises';
import * as z from '../../protocol/zod-mini.ts';
import { resolvePath } from './paths.ts';
import type { Tool } from './types.ts';
import { errorText, fail, ok } from './types.ts';

export const READ_FILE_MAX_BYTES = 100_000;

const Input = z.object({
  path: z.string().check(z.minLength(1), z.describe('file path, relative to the workspace or absolute')),
});

export const readFileTool: Tool<typeof Input> = {
  name: 'read_file',
  description: `Read a text file. Files over ${READ_FILE_MAX_BYTES} bytes are truncated.`,
  input: Input,
  run: async (input, ctx) => {
    const path = resolvePath(ctx.workspace, input.path);
    try {
      const file = await open(path, 'r');
      try {
        const { size } = await file.stat();
        const buf = Buffer.alloc(Math.min(size, READ_FILE_MAX_BYTES));
        const { bytesRead } = await file.read(buf, 0, buf.length, 0);
        const text = buf.subarray(0, bytesRead).toString('utf8');
        return ok(size > bytesRead ? `${text}\n[truncated: showed ${bytesRead} of ${size} bytes]` : text);
      } finally {
        await file.close();
      }
    } catch (err) {
      return fail(`cannot read ${input.path}: ${errorText(err)}`);
    }
  },
};
