// corral run AGENT TEXT (one turn, reply on stdout) and corral chat AGENT (a conversation in the terminal).
import readline from 'node:readline/promises';
import type { Command } from 'commander';
import type { TurnEvent } from '../../host/turn.ts';
import { newSessionKey } from '../../host/session.ts';
import { openHost } from '../../host/open.ts';
import type { CliContext } from '../context.ts';
import { formatError } from '../format-error.ts';

const TOOL_PREVIEW_CHARS = 200;

function progress(ctx: CliContext, quiet: boolean): (e: TurnEvent) => void {
  return (e) => {
    switch (e.type) {
      case 'text':
        ctx.out(e.delta);
        return;
      case 'tool_call':
        if (!quiet) ctx.err(`\n⚙ ${e.name} ${JSON.stringify(e.input).slice(0, TOOL_PREVIEW_CHARS)}\n`);
        return;
      case 'tool_result':
        if (!quiet && e.isError)
          ctx.err(`  ✗ ${e.output.trim().split('\n')[0]?.slice(0, TOOL_PREVIEW_CHARS)}\n`);
        return;
      case 'compacted':
        if (!quiet) ctx.err('\n(older turns were summarised to fit the model’s context window)\n');
        return;
      case 'usage':
        return;
    }
  };
}

/** Ctrl-C cancels the running turn first; a second Ctrl-C leaves. */
function cancelOnSigint(): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onSigint = (): void => {
    if (ac.signal.aborted) process.exit(130);
    ac.abort();
  };
  process.on('SIGINT', onSigint);
  return { signal: ac.signal, dispose: () => process.off('SIGINT', onSigint) };
}

export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command('run <agent> <text...>')
    .description('send one message; the reply streams to stdout')
    .option('--session <key>', 'continue a named session instead of starting a new one')
    .option('--json', 'print the result as JSON instead of streaming text')
    .option('-q, --quiet', 'do not show tool calls on stderr')
    .action(
      async (agent: string, words: string[], opts: { session?: string; json?: boolean; quiet?: boolean }) => {
        const opened = openHost(ctx.home, ctx.log);
        const cancel = cancelOnSigint();
        try {
          const session = opened.host.session(agent, opts.session ?? newSessionKey('cli:run'));
          const json = opts.json === true;
          const result = await session.send(words.join(' '), {
            onEvent: json ? () => undefined : progress(ctx, opts.quiet === true),
            signal: cancel.signal,
          });
          ctx.out(json ? JSON.stringify(result) + '\n' : '\n');
          if (!json) for (const l of result.limits ?? []) ctx.err(`⚠ ${l}\n`);
        } finally {
          cancel.dispose();
          await opened.close();
        }
      },
    );

  program
    .command('chat <agent>')
    .description('talk to an agent in the terminal (the sandbox stays warm between messages)')
    .option('--session <key>', 'continue a named session')
    .action(async (agent: string, opts: { session?: string }) => {
      const opened = openHost(ctx.home, ctx.log);
      const session = opened.host.session(agent, opts.session ?? newSessionKey('cli:chat'));
      const rl = readline.createInterface({
        input: process.stdin,
        output: process.stderr,
        terminal: process.stdin.isTTY,
      });
      ctx.err(`chatting with ${agent}; an empty line or Ctrl-D ends\n`);
      try {
        // On a terminal readline swallows Ctrl-C; hand it to the same cancel-then-leave logic as `run`.
        // At the prompt (no turn running) Ctrl-C leaves.
        let running = false;
        rl.on('SIGINT', () => (running ? process.emit('SIGINT', 'SIGINT') : rl.close()));
        rl.setPrompt('› ');
        rl.prompt();
        // The async iterator buffers lines typed (or piped) while a turn is still running.
        for await (const line of rl) {
          if (line.trim() === '') break;
          const cancel = cancelOnSigint();
          running = true;
          try {
            const result = await session.send(line, { onEvent: progress(ctx, false), signal: cancel.signal });
            ctx.out('\n');
            for (const l of result.limits ?? []) ctx.err(`⚠ ${l}\n`);
            if (result.stopReason === 'cancelled') ctx.err('(cancelled)\n');
          } catch (err) {
            // one failed turn does not end the conversation; the message is recorded as failed
            ctx.err(formatError(err));
          } finally {
            running = false;
            cancel.dispose();
          }
          rl.prompt();
        }
      } finally {
        rl.close();
        await opened.close();
      }
    });
}
