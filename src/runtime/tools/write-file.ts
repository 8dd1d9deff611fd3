// The write_file tool: writes a whole file, creating its parent directories.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as z from '../../protocol/zod-mini.ts';
import { resolvePath } from './paths.ts';
import type { Tool } from './types.ts';
import { errorText, fail, ok } from './types.ts';

const Input = z.object({
  path: z.string().check(z.minLength(1), z.describe('file path, relative to the workspace or absolute')),
  content: z.string().check(z.describe('the complete new contents of the file')),
});

export const writeFileTool: Tool<typeof Input> = {
  name: 'write_file',
  description: 'Create or overwrite a file with the given content; parent directories are created.',
  input: Input,
  run: async (input, ctx) => {
    const path = resolvePath(ctx.workspace, input.path);
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, input.content, 'utf8');
      return ok(`wrote ${Buffer.byteLength(input.content)} bytes to ${input.path}`);
    } catch (err) {
      return fail(`cannot write ${input.path}: ${errorText(err)}`);
    }
  },
};
