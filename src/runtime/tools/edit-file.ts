// The edit_file tool: replaces one exact, unique occurrence of a string, so an edit never lands in the wrong place.
import { readFile, writeFile } from 'node:fs/promises';
import * as z from '../../protocol/zod-mini.ts';
import { resolvePath } from './paths.ts';
import type { Tool } from './types.ts';
import { errorText, fail, ok } from './types.ts';

const Input = z.object({
  path: z.string().check(z.minLength(1), z.describe('file path, relative to the workspace or absolute')),
  old_string: z
    .string()
    .check(z.minLength(1), z.describe('the exact text to replace; must occur exactly once')),
  new_string: z.string().check(z.describe('the replacement text')),
});

export const editFileTool: Tool<typeof Input> = {
  name: 'edit_file',
  description:
    'Replace an exact string in a file. old_string must occur exactly once; include surrounding lines to make it unique.',
  input: Input,
  run: async (input, ctx) => {
    const path = resolvePath(ctx.workspace, input.path);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      return fail(`cannot read ${input.path}: ${errorText(err)}`);
    }
    const first = text.indexOf(input.old_string);
    if (first === -1) return fail(`old_string not found in ${input.path}; nothing changed`);
    if (text.indexOf(input.old_string, first + 1) !== -1)
      return fail(
        `old_string occurs more than once in ${input.path}; add surrounding lines to make it unique`,
      );
    const next = text.slice(0, first) + input.new_string + text.slice(first + input.old_string.length);
    try {
      await writeFile(path, next, 'utf8');
    } catch (err) {
      return fail(`cannot write ${input.path}: ${errorText(err)}`);
    }
    return ok(`edited ${input.path}`);
  },
};
