// npm run bench (gateway part): small requests and a 50 MB streamed body sent straight to a loopback origin
// and through the gateway socket, in one run, as the production host wires the gateway (openHost). Two paths:
// plain-HTTP forwarding (egress allowed by an explicit IP:port rule) and the model route (key, metering, budget).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { initHome } from '../src/cli/commands/init.ts';
import { saveAgent } from '../src/config/agent-files.ts';
import { loadConfig, saveConfig } from '../src/config/config-file.ts';
import { resolveHome } from '../src/config/home.ts';
import { AgentConfig } from '../src/config/schema.ts';
import { openHost } from '../src/host/open.ts';
import { createLogger } from '../src/util/log.ts';
import { startBareProxy } from './bare-proxy.ts';
import { summarise } from './gateway-summary.ts';
import type { GatewayBenchResult } from './gateway-summary.ts';
import { LoadResult } from './gateway-summary.ts';

export const DEFAULT_GATEWAY_PLAN = {
  latencyRequests: 1000,
  throughputMs: 2000,
  concurrency: 16,
  bigRepeats: 3,
};
export type GatewayPlan = typeof DEFAULT_GATEWAY_PLAN;
/** The whole run is bounded: counts above, and this for everything including start-up. */
export const GATEWAY_BENCH_TIMEOUT_MS = 180_000;
const Mark = z.object({ mark: z.string(), requests: z.number().int().optional() });
const LOAD = fileURLToPath(new URL('./gateway-load.ts', import.meta.url));

export async function runGatewayBench(opts: {
  plan?: GatewayPlan;
  progress: (msg: string) => void;
}): Promise<GatewayBenchResult> {
  const plan = opts.plan ?? DEFAULT_GATEWAY_PLAN;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-gwbench-'));
  const log = createLogger({ level: 'error' });
  const ctx = { home: resolveHome({ CORRAL_HOME: dir }), log, out: () => undefined, err: () => undefined };
  const child = spawn(process.execPath, ['--import', 'tsx', LOAD], { stdio: ['pipe', 'pipe', 'inherit'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), GATEWAY_BENCH_TIMEOUT_MS);
  const lines = readline.createInterface({ input: child.stdout });
  const iter = lines[Symbol.asyncIterator]();
  const nextLine = async (): Promise<unknown> => {
    const r = await iter.next();
    if (r.done === true) throw new Error('the gateway bench load process ended early');
    return JSON.parse(r.value);
  };
  try {
    const { port } = z.object({ port: z.number().int() }).parse(await nextLine());
    initHome(ctx);
    const config = loadConfig(ctx.home);
    saveConfig(ctx.home, {
      ...config,
      providers: { stand: { kind: 'anthropic', baseUrl: `http://127.0.0.1:${port}`, keySecret: 'K' } },
      prices: { ...config.prices, 'stand:*': { input: 1, output: 1 } },
    });
    // A budget far from reached: the model route pays for the check on every call, as budgeted agents do.
    const agent = {
      name: 'bench',
      model: 'stand:bench-model',
      allow: [`127.0.0.1:${port}`],
      budget: { usdPerDay: 1e6 },
    };
    saveAgent(ctx.home, AgentConfig.parse(agent));
    const opened = openHost(ctx.home, log);
    try {
      opened.store.putSecret('K', 'bench-key');
      opened.store.ensureAgent('bench');
      const socketPath = path.join(dir, 'gw.sock');
      const endpoint = await opened.gateway.attach({ agent: 'bench', sandboxId: 'bench', socketPath });
      // the floor, in this process like the gateway, so both are measured by this process's CPU time
      const bareSocketPath = path.join(dir, 'bare.sock');
      const bare = await startBareProxy(bareSocketPath);
      opts.progress(
        `gateway: ${plan.latencyRequests} small requests each way, ${plan.throughputMs} ms of load at ${plan.concurrency} in flight, ${plan.bigRepeats}× 50 MB, per path`,
      );
      child.stdin.write(JSON.stringify({ socketPath, bareSocketPath, ...plan }) + '\n');
      // CPU time this process spends per request in each measured phase: a figure the machine's other load
      // does not distort the way it distorts requests per second.
      const cpuUsPerRequest: Record<string, number> = {};
      let started = process.cpuUsage();
      for (;;) {
        const line = await nextLine();
        const mark = Mark.safeParse(line);
        if (!mark.success) {
          const result = LoadResult.parse(line);
          await endpoint.close();
          await bare.close();
          return summarise(result, plan.concurrency, cpuUsPerRequest);
        }
        const [phase = '', edge] = mark.data.mark.split(':');
        if (edge === 'start') started = process.cpuUsage();
        else {
          const used = process.cpuUsage(started);
          cpuUsPerRequest[phase] = (used.user + used.system) / Math.max(1, mark.data.requests ?? 1);
        }
        child.stdin.write('go\n');
      }
    } finally {
      await opened.close();
    }
  } finally {
    clearTimeout(timer);
    lines.close();
    if (child.exitCode === null) child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
