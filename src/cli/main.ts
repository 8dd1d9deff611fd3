// The corral command. Expected failures print one line and a next step; only bugs print a stack.
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CorralError } from '../util/errors.ts';
import { registerAgent } from './commands/agent.ts';
import { registerApprovals } from './commands/approvals.ts';
import { registerAudit } from './commands/audit.ts';
import { registerBench } from './commands/bench.ts';
import { registerChannel } from './commands/channel.ts';
import { registerDoctor } from './commands/doctor.ts';
import { registerEgress } from './commands/egress.ts';
import { registerImage } from './commands/image.ts';
import { registerInit } from './commands/init.ts';
import { registerLogs } from './commands/logs.ts';
import { registerOperator } from './commands/operator.ts';
import { registerProvider } from './commands/provider.ts';
import { registerRun } from './commands/run.ts';
import { registerSecret } from './commands/secret.ts';
import { registerService } from './commands/service.ts';
import { registerTask } from './commands/task.ts';
import { registerUp } from './commands/up.ts';
import { registerUsage } from './commands/usage.ts';
import type { CliContext } from './context.ts';
import { createCliContext } from './context.ts';
import { formatError } from './format-error.ts';

const NEEDS_NO_HOME = new Set(['init', 'doctor', 'bench', 'help', 'image']);

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('corral')
    .description('run bounded AI agents, each inside a hard isolation boundary')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => ctx.err(s), writeOut: (s) => ctx.out(s) });
  program.hook('preAction', (_cmd, action) => {
    let top = action;
    while (top.parent !== null && top.parent !== program) top = top.parent;
    if (!NEEDS_NO_HOME.has(top.name()) && !fs.existsSync(ctx.home.configFile)) {
      throw new CorralError(
        'not_initialised',
        `corral is not set up in ${ctx.home.root}`,
        'run: corral init',
      );
    }
  });
  registerInit(program, ctx);
  registerSecret(program, ctx);
  registerProvider(program, ctx);
  registerAgent(program, ctx);
  registerChannel(program, ctx);
  registerRun(program, ctx);
  registerAudit(program, ctx);
  registerApprovals(program, ctx);
  registerOperator(program, ctx);
  registerEgress(program, ctx);
  registerUsage(program, ctx);
  registerImage(program, ctx);
  registerDoctor(program, ctx);
  registerBench(program, ctx);
  registerUp(program, ctx);
  registerTask(program, ctx);
  registerLogs(program, ctx);
  registerService(program, ctx);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const ctx = createCliContext();
  try {
    await buildProgram(ctx).parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    ctx.err(formatError(err));
    return 1;
  }
}
