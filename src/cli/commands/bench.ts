// corral bench: latency of sandbox start and of a warm turn, as ratios to raw bwrap measured in the same run,
// then the gateway's added latency and throughput against direct requests to a loopback origin.
import type { Command } from 'commander';
import { CorralError } from '../../util/errors.ts';
import type { CliContext } from '../context.ts';

const DEFAULT_ITERATIONS = 20;
const PARTS = [
  'latency',
  'gateway',
  'docker',
  'daemon',
  'bwrap',
  'runc',
  'gvisor',
  'microvm',
  'fleet',
] as const;
const FLEET_BACKENDS = ['bwrap', 'runc', 'gvisor', 'docker', 'microvm'] as const;

interface BenchOpts {
  iterations: string;
  only?: string;
  json?: boolean;
  backend?: string;
  count: string;
  maxStarting?: string;
}

export function registerBench(program: Command, ctx: CliContext): void {
  program
    .command('bench')
    .description(
      'measure sandbox start, warm-turn and gateway latency (local stand-ins only; needs the repository checkout)',
    )
    .option('-n, --iterations <n>', 'samples per sandbox measurement', String(DEFAULT_ITERATIONS))
    .option('--only <part>', `run one part: ${PARTS.join(' or ')}`)
    .option('--backend <name>', `fleet: one backend (${FLEET_BACKENDS.join(', ')}); default all but microvm`)
    .option('--count <n>', 'fleet: sandboxes started at once', '50')
    .option(
      '--max-starting <n>',
      "fleet: the host's bound on starts at once (default: sandboxes.maxStarting's)",
    )
    .option('--json', 'print JSON')
    .action(async (opts: BenchOpts) => {
      const only = PARTS.find((p) => p === opts.only);
      if (opts.only !== undefined && only === undefined)
        throw new CorralError(
          'invalid_argument',
          `unknown bench part '${opts.only}'`,
          `use ${PARTS.join(', ')}`,
        );
      const started = Date.now();
      const progress = (msg: string): void =>
        ctx.err(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}…\n`);
      // The benches use stand-ins from the test fixtures, so they load only on demand.
      if (only === 'docker') {
        // only on request: it needs a Docker daemon with user namespace remapping (scripts/start-dockerd.sh)
        const { runDockerBench, formatDockerBench } = await import('../../../bench/docker.ts');
        const iterations = Math.max(1, Number(opts.iterations) || DEFAULT_ITERATIONS);
        const docker = await runDockerBench({ iterations, progress });
        ctx.out(opts.json === true ? JSON.stringify({ docker }, null, 2) + '\n' : formatDockerBench(docker));
        return;
      }
      if (only === 'fleet') {
        // only on request: N sandboxes at once per backend, minutes on a small machine
        const {
          runFleetBench,
          formatFleetBench,
          FLEET_BACKENDS: defaults,
        } = await import('../../../bench/fleet.ts');
        const backend = FLEET_BACKENDS.find((b) => b === opts.backend);
        if (opts.backend !== undefined && backend === undefined)
          throw new CorralError(
            'invalid_argument',
            `unknown backend '${opts.backend}'`,
            `use ${FLEET_BACKENDS.join(', ')}`,
          );
        const count = Number(opts.count);
        if (!Number.isInteger(count) || count < 1)
          throw new CorralError(
            'invalid_argument',
            `--count must be a positive whole number, not '${opts.count}'`,
            'e.g. --count 50',
          );
        const maxStarting = opts.maxStarting === undefined ? undefined : Number(opts.maxStarting);
        if (maxStarting !== undefined && (!Number.isInteger(maxStarting) || maxStarting < 1))
          throw new CorralError(
            'invalid_argument',
            `--max-starting must be a positive whole number, not '${String(opts.maxStarting)}'`,
            'e.g. --max-starting 4',
          );
        const r = await runFleetBench({
          count,
          ...(maxStarting === undefined ? {} : { maxStarting }),
          backends: backend === undefined ? defaults : [backend],
          progress,
        });
        ctx.out(opts.json === true ? JSON.stringify({ fleet: r }, null, 2) + '\n' : formatFleetBench(r));
        return;
      }
      if (only === 'daemon') {
        // minutes, not seconds: only when asked for (100 agents, 2,000 messages through a real corral up)
        const { runDaemonBench, formatDaemonBench } = await import('../../../bench/daemon.ts');
        const r = await runDaemonBench({ progress });
        ctx.out(opts.json === true ? JSON.stringify({ daemon: r }, null, 2) + '\n' : formatDaemonBench(r));
        return;
      }
      if (only === 'microvm') {
        // only on request: QEMU and a guest kernel; under TCG (no working KVM) each boot takes seconds
        const { runMicrovmBench, formatMicrovmBench } = await import('../../../bench/microvm.ts');
        const iterations = Math.max(1, Number(opts.iterations) || DEFAULT_ITERATIONS);
        const r = await runMicrovmBench({ iterations, progress });
        ctx.out(opts.json === true ? JSON.stringify({ microvm: r }, null, 2) + '\n' : formatMicrovmBench(r));
        return;
      }
      if (only === 'bwrap' || only === 'runc' || only === 'gvisor') {
        // only on request: on the base image; runc and gVisor need corral to run as root
        const { runOciBench, formatOciBench } = await import('../../../bench/oci.ts');
        const iterations = Math.max(1, Number(opts.iterations) || DEFAULT_ITERATIONS);
        const oci = await runOciBench({ backend: only, iterations, progress });
        ctx.out(opts.json === true ? JSON.stringify({ [only]: oci }, null, 2) + '\n' : formatOciBench(oci));
        return;
      }
      let latency;
      if (only !== 'gateway') {
        const { runBench, formatBench } = await import('../../../bench/latency.ts');
        const iterations = Math.max(1, Number(opts.iterations) || DEFAULT_ITERATIONS);
        latency = await runBench({ iterations, progress });
        if (opts.json !== true) ctx.out(formatBench(latency));
      }
      let gateway;
      if (only !== 'latency') {
        const { runGatewayBench } = await import('../../../bench/gateway.ts');
        const { formatGatewayBench } = await import('../../../bench/gateway-summary.ts');
        gateway = await runGatewayBench({ progress });
        if (opts.json !== true) ctx.out(formatGatewayBench(gateway));
      }
      if (opts.json === true)
        ctx.out(JSON.stringify({ ...latency, ...(gateway ? { gateway } : {}) }, null, 2) + '\n');
    });
}
