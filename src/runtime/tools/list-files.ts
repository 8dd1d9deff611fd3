// The list_files tool: a bounded, breadth-first listing of a directory tree (directories end in "/").
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import * as z from '../../protocol/zod-mini.ts';
import { resolvePath } from './paths.ts';
import type { Tool } from './types.ts';
import { errorText, fail, ok } from './types.ts';

export const LIST_FILES_MAX_ENTRIES = 1_000;
const LIST_FILES_MAX_DEPTH = 10;

const Input = z.object({
  path: z
    .optional(z.string())
    .check(z.describe('directory, relative to the workspace or absolute (default: the workspace)')),
  depth: z
    .optional(z.int().check(z.gte(1), z.lte(LIST_FILES_MAX_DEPTH)))
    .check(z.describe('levels to descend (default 2)')),
});

export const listFilesTool: Tool<typeof Input> = {
  name: 'list_files',
  description: `List files under a directory, breadth first, at most ${LIST_FILES_MAX_ENTRIES} entries.`,
  input: Input,
  run: async (input, ctx) => {
    const root = resolvePath(ctx.workspace, input.path ?? '.');
    const maxDepth = input.depth ?? 2;
    const lines: string[] = [];
    let queue: string[] = [root];
    for (let depth = 1; depth <= maxDepth && queue.length > 0; depth++) {
      const next: string[] = [];
      for (const dir of queue) {
        let entries;
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch (err) {
          if (dir === root) return fail(`cannot list ${input.path ?? '.'}: ${errorText(err)}`);
          lines.push(`${relative(root, dir)}/ [unreadable: ${errorText(err)}]`);
          continue;
        }
        entries.sort((a, b) => a.name.localeCompare(b.name));
        for (const entry of entries) {
          const full = join(dir, entry.name);
          // isDirectory() on a Dirent does not follow symlinks, so a link loop cannot make this run forever.
          lines.push(relative(root, full) + (entry.isDirectory() ? '/' : ''));
          if (lines.length >= LIST_FILES_MAX_ENTRIES)
            return ok(`${lines.join('\n')}\n[stopped at ${LIST_FILES_MAX_ENTRIES} entries]`);
          if (entry.isDirectory()) next.push(full);
        }
      }
      queue = next;
    }
    return ok(lines.length > 0 ? lines.join('\n') : '(empty)');
  },
};
