// corral bench: latency of sandbox start and of a warm turn, as ratios to raw bwrap measured in the same run.
import type { Command } from 'commander';
import type { CliContext } from '../context.ts';

const DEFAULT_ITERATIONS = 20;

export function registerBench(program: Command, ctx: CliContext): void {
  program
    .command('bench')
    .description(
      'measure sandbox start and warm-turn latency (local stand-in model; needs the repository checkout)',
    )
    .option('-n, --iterations <n>', 'samples per measurement', String(DEFAULT_ITERATIONS))
    .option('--json', 'print JSON')
    .action(async (opts: { iterations: string; json?: boolean }) => {
      // The bench uses the stand-in model server from the test fixtures, so it loads only on demand.
      const { runBench, formatBench } = await import('../../../bench/latency.ts');
      const started = Date.now();
      const result = await runBench({
        iterations: Math.max(1, Number(opts.iterations) || DEFAULT_ITERATIONS),
        progress: (msg) => ctx.err(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}…\n`),
      });
      ctx.out(opts.json === true ? JSON.stringify(result, null, 2) + '\n' : formatBench(result));
    });
}
