// The bash tool: runs a command with /bin/bash -c in the workspace as its own process group, so a timeout or a
// cancel can kill everything the command started, not just the shell.
import { spawn } from 'node:child_process';
import * as z from '../../protocol/zod-mini.ts';
import { CappedOutput } from './output-cap.ts';
import type { Tool, ToolResult } from './types.ts';
import { ToolTimeLimit } from './types.ts';

export const BASH_DEFAULT_TIMEOUT_MS = 120_000;
export const BASH_MAX_TIMEOUT_MS = 600_000;
/** After the shell exits, how long to wait for pipes that a background process may hold open. */
const BASH_DRAIN_AFTER_EXIT_MS = 500;

const Input = z.object({
  command: z
    .string()
    .check(z.minLength(1), z.describe('the command line, run by /bin/bash -c in the workspace')),
  timeout_ms: z
    .optional(z.int().check(z.positive()))
    .check(z.describe(`timeout in ms (default ${BASH_DEFAULT_TIMEOUT_MS}, max ${BASH_MAX_TIMEOUT_MS})`)),
});

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL'); // negative pid: the whole process group the detached shell leads
  } catch {
    // already gone
  }
}

export const bashTool: Tool<typeof Input> = {
  name: 'bash',
  description:
    'Run a shell command in the workspace. stdout and stderr are returned interleaved, long output is cut in the middle, ' +
    'and the exit code is reported. Network access goes through the configured HTTP(S) proxy.',
  input: Input,
  run: (input, ctx, signal) =>
    new Promise<ToolResult>((resolve) => {
      const timeoutMs = Math.min(input.timeout_ms ?? BASH_DEFAULT_TIMEOUT_MS, BASH_MAX_TIMEOUT_MS);
      const out = new CappedOutput();
      const child = spawn('/bin/bash', ['-c', input.command], {
        cwd: ctx.workspace,
        env: ctx.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stopped: string | undefined;
      const stop = (why: string): void => {
        stopped ??= why;
        killGroup(child.pid);
      };
      const timer = setTimeout(
        () => stop(`timed out after ${timeoutMs} ms; process group killed`),
        timeoutMs,
      );
      const onAbort = (): void =>
        stop(
          signal.reason instanceof ToolTimeLimit ? signal.reason.message : 'cancelled; process group killed',
        );
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
      const append = (chunk: Buffer): void => out.append(chunk.toString('utf8'));
      child.stdout.on('data', append);
      child.stderr.on('data', append);

      let settled = false;
      const finish = (code: number | null, sig: NodeJS.Signals | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        child.stdout.destroy();
        child.stderr.destroy();
        const status =
          stopped ?? (code !== null ? `exit code ${code}` : `killed by signal ${sig ?? 'unknown'}`);
        resolve({ output: `${out.toString()}\n[${status}]`, isError: stopped !== undefined || code !== 0 });
      };
      child.on('error', (err) => {
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve({ output: `could not start /bin/bash: ${err.message}`, isError: true });
      });
      child.on('close', finish);
      child.on('exit', (code, sig) => setTimeout(() => finish(code, sig), BASH_DRAIN_AFTER_EXIT_MS).unref());
    }),
};
