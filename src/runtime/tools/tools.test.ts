// The tools on their own, through the registry the loop uses (input validation included), in a temp workspace.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ToolName } from '../../protocol/frames.ts';
import { MAX_TOOL_OUTPUT_CHARS } from './output-cap.ts';
import { READ_FILE_MAX_BYTES } from './read-file.ts';
import { runTool, toolSpecs } from './index.ts';
import type { ToolContext } from './types.ts';

let ctx: ToolContext;
beforeEach(async () => {
  ctx = {
    workspace: await mkdtemp(join(tmpdir(), 'corral-tools-')),
    env: { PATH: process.env['PATH'] },
    bridgePort: 1,
  };
});
afterEach(async () => rm(ctx.workspace, { recursive: true, force: true }));

const all = ToolName.options;
const run = (name: string, input: unknown, signal = new AbortController().signal) =>
  runTool(all, name, input, ctx, signal);

describe('registry', () => {
  it('gives the model an object JSON schema per tool, without $schema', () => {
    const specs = toolSpecs(all);
    expect(specs.map((s) => s.name)).toEqual(all);
    for (const spec of specs) {
      expect(spec.inputSchema).toMatchObject({ type: 'object' });
      expect(spec.inputSchema).not.toHaveProperty('$schema');
    }
  });

  it('turns invalid input into an error result', async () => {
    const result = await run('bash', { cmd: 'ls' });
    expect(result.isError).toBe(true);
    // English messages, as with full zod: the runtime bundles zod/mini, which has none unless configured.
    expect(result.output).toBe(
      'invalid input for bash: ✖ Invalid input: expected string, received undefined\n  → at command',
    );
  });
});

describe('bash', () => {
  it('interleaves stdout and stderr and reports the exit code', async () => {
    const result = await run('bash', { command: 'echo out; echo err >&2; exit 3' });
    expect(result).toEqual({ output: 'out\nerr\n\n[exit code 3]', isError: true });
  });

  it('caps megabytes of output, keeping head and tail', async () => {
    const result = await run('bash', {
      command: "echo START; head -c 3000000 /dev/zero | tr '\\0' x; echo; echo END",
    });
    expect(result.output.length).toBeLessThan(MAX_TOOL_OUTPUT_CHARS + 200);
    expect(result.output.startsWith('START\n')).toBe(true);
    expect(result.output).toMatch(/\[\.\.\. \d+ characters cut from the middle of the output \.\.\.\]/);
    expect(result.output.endsWith('END\n\n[exit code 0]')).toBe(true);
  });

  it('kills the process group on timeout and says so', async () => {
    const started = Date.now();
    const result = await run('bash', { command: 'echo begun; sleep 30', timeout_ms: 300 });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result).toEqual({
      output: 'begun\n\n[timed out after 300 ms; process group killed]',
      isError: true,
    });
  });
});

describe('files', () => {
  it('writes with parent dirs, reads, edits, lists', async () => {
    expect((await run('write_file', { path: 'a/b/c.txt', content: 'one two two' })).isError).toBe(false);
    expect(await run('read_file', { path: join(ctx.workspace, 'a/b/c.txt') })).toEqual({
      output: 'one two two',
      isError: false,
    });
    const twice = await run('edit_file', { path: 'a/b/c.txt', old_string: 'two', new_string: '2' });
    expect(twice.isError && twice.output).toContain('occurs more than once');
    const missing = await run('edit_file', { path: 'a/b/c.txt', old_string: 'three', new_string: '3' });
    expect(missing.isError && missing.output).toContain('not found');
    expect((await run('edit_file', { path: 'a/b/c.txt', old_string: 'one', new_string: '1' })).isError).toBe(
      false,
    );
    expect(await readFile(join(ctx.workspace, 'a/b/c.txt'), 'utf8')).toBe('1 two two');
    expect(await run('list_files', { depth: 3 })).toEqual({ output: 'a/\na/b/\na/b/c.txt', isError: false });
  });

  it('truncates big files and reports missing ones', async () => {
    await mkdir(join(ctx.workspace, 'd'));
    await writeFile(join(ctx.workspace, 'd/big'), 'y'.repeat(READ_FILE_MAX_BYTES + 10));
    const big = await run('read_file', { path: 'd/big' });
    expect(big.output).toContain(
      `[truncated: showed ${READ_FILE_MAX_BYTES} of ${READ_FILE_MAX_BYTES + 10} bytes]`,
    );
    expect(await run('read_file', { path: 'nope' })).toMatchObject({ isError: true });
  });
});
