// npm run bench: sandbox start → runtime ready, and a warm turn, each against raw `bwrap /bin/true` measured in
// the same run. Everything local: the model is the stand-in server on loopback.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { initHome } from '../src/cli/commands/init.ts';
import { loadConfig, saveConfig } from '../src/config/config-file.ts';
import { resolveHome } from '../src/config/home.ts';
import { saveAgent } from '../src/config/agent-files.ts';
import { AgentConfig } from '../src/config/schema.ts';
import { unmountAgentVolume } from '../src/host/agent-volume.ts';
import { launchSandbox } from '../src/host/launch.ts';
import { TRIVIAL_SANDBOX_ARGS } from '../src/sandbox/bwrap/probe.ts';
import { openHost } from '../src/host/open.ts';
import { startModelServer } from '../test/fixtures/model-server.ts';
import { benchLogger } from './backend-harness.ts';
import { run } from './oci.ts';
import type { Stats } from './stats.ts';
import { stats, timeIt } from './stats.ts';

const rawBwrap = (): Promise<void> => run(['bwrap', ...TRIVIAL_SANDBOX_ARGS]);
/** The same trivial sandbox running `node -e 0`: the part of runtime start that is Node's own. */
const rawBwrapNode = (): Promise<void> =>
  run(['bwrap', ...TRIVIAL_SANDBOX_ARGS.slice(0, -1), process.execPath, '-e', '0']);

export interface BenchResult {
  rawBwrap: Stats;
  rawBwrapNode: Stats;
  runtimeReady: Stats;
  rawModelCall: Stats;
  warmTurn: Stats;
  readyOverheadMs: number;
  turnOverheadMs: number;
}

export async function runBench(opts: {
  iterations: number;
  progress: (msg: string) => void;
}): Promise<BenchResult> {
  const n = opts.iterations;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-bench-'));
  const server = await startModelServer();
  const log = benchLogger();
  const ctx = { home: resolveHome({ CORRAL_HOME: dir }), log, out: () => undefined, err: () => undefined };
  try {
    initHome(ctx);
    const config = loadConfig(ctx.home);
    saveConfig(ctx.home, {
      ...config,
      providers: { stand: { kind: 'anthropic', baseUrl: server.url, keySecret: 'K' } },
    });
    saveAgent(ctx.home, AgentConfig.parse({ name: 'bench', model: 'stand:claude-bench' }));
    const opened = openHost(ctx.home, log);
    opened.store.putSecret('K', 'bench-key');
    try {
      opts.progress('raw bwrap /bin/true');
      await rawBwrap(); // warm the page cache before measuring anything
      const raw = await timeIt(n, rawBwrap);
      const rawNode = await timeIt(n, rawBwrapNode);
      opts.progress('sandbox start → runtime ready');
      const deps = {
        home: ctx.home,
        store: opened.store,
        sandboxes: opened.sandboxes,
        gateway: opened.gateway,
        log,
        isRoot: process.getuid?.() === 0,
      };
      await (await launchSandbox(deps, { name: 'bench', backend: 'bwrap' })).stop();
      const ready: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const s = await launchSandbox(deps, { name: 'bench', backend: 'bwrap' });
        ready.push(performance.now() - t0);
        await s.stop();
      }
      opts.progress('raw model call (SDK → stand-in, no sandbox)');
      const client = new Anthropic({ apiKey: 'k', baseURL: server.url, maxRetries: 0 });
      const call = async (): Promise<unknown> =>
        client.messages
          .stream({ model: 'claude-bench', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] })
          .finalMessage();
      await call();
      const model = await timeIt(n, call);
      opts.progress('warm turn inside a running sandbox');
      const session = opened.host.session('bench', 'bench');
      await session.send('warm up');
      const turns = await timeIt(n, () => session.send('hello'));
      const result = {
        rawBwrap: stats(raw),
        rawBwrapNode: stats(rawNode),
        runtimeReady: stats(ready),
        rawModelCall: stats(model),
        warmTurn: stats(turns),
      };
      return {
        ...result,
        readyOverheadMs: result.runtimeReady.median - result.rawBwrap.median,
        turnOverheadMs: result.warmTurn.median - result.rawModelCall.median,
      };
    } finally {
      await opened.close();
      await unmountAgentVolume(ctx.home, 'bench'); // as root the agent's data is a mounted volume
    }
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function formatBench(r: BenchResult): string {
  const row = (name: string, s: Stats, base: Stats): string =>
    `${name.padEnd(34)} median ${s.median.toFixed(1).padStart(7)} ms  p95 ${s.p95.toFixed(1).padStart(7)} ms  ×${(s.median / base.median).toFixed(2)} raw bwrap\n`;
  return (
    row('raw bwrap /bin/true', r.rawBwrap, r.rawBwrap) +
    row('raw bwrap + node -e 0', r.rawBwrapNode, r.rawBwrap) +
    row('sandbox start → runtime ready', r.runtimeReady, r.rawBwrap) +
    row('raw model call (no sandbox)', r.rawModelCall, r.rawBwrap) +
    row('warm turn (sandbox up)', r.warmTurn, r.rawBwrap) +
    `runtime ready − raw bwrap: ${r.readyOverheadMs.toFixed(1)} ms (goal < 150 ms), of which Node's own start ${(r.rawBwrapNode.median - r.rawBwrap.median).toFixed(1)} ms\n` +
    `warm turn − raw model call: ${r.turnOverheadMs.toFixed(1)} ms platform overhead per turn (goal < 50 ms)\n`
  );
}
