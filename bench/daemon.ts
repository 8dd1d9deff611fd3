// corral bench --only daemon: a real `corral up` (its own process, real bwrap sandboxes, one warm sandbox per
// session) takes N agents × M messages through the HTTP API while the stand-in model answers at once. Every
// reply comes back through the outbox to a local webhook, so "delivered once" is counted where it arrives.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initHome } from '../src/cli/commands/init.ts';
import { saveAgent } from '../src/config/agent-files.ts';
import { loadConfig, saveConfig } from '../src/config/config-file.ts';
import { resolveHome } from '../src/config/home.ts';
import { AgentConfig } from '../src/config/schema.ts';
import { unmountAgentVolume } from '../src/host/agent-volume.ts';
import { openStore } from '../src/host/open.ts';
import { createLogger } from '../src/util/log.ts';
import { startModelServer } from '../test/fixtures/model-server.ts';

const BIN = fileURLToPath(new URL('../bin/corral.js', import.meta.url));

export interface DaemonPlan {
  agents: number;
  messages: number;
  /** POSTs in flight at once */
  clients: number;
  maxSandboxes?: number;
}
export const DAEMON_PLAN: DaemonPlan = { agents: 100, messages: 2000, clients: 32 };
const DEADLINE_MS = 15 * 60_000;

export interface DaemonBenchResult {
  plan: DaemonPlan;
  accepted: number;
  deliveredKeys: number;
  deliveries: number;
  failed: number;
  /** why replies failed, grouped by the error text the host gave (numbers stripped), most frequent first */
  failures: { reason: string; count: number }[];
  seconds: number;
  throughputPerS: number;
  latencyMs: { p50: number; p99: number; max: number };
  hostRssMiB: number;
  hostPeakRssMiB: number;
  sandboxesStarted: number;
}

const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;

function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

export async function runDaemonBench(opts: {
  plan?: DaemonPlan;
  progress: (msg: string) => void;
}): Promise<DaemonBenchResult> {
  const plan = opts.plan ?? DAEMON_PLAN;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-bench-daemon-'));
  const model = await startModelServer();
  const arrived = new Map<string, { at: number; status: unknown; error: unknown }>();
  let deliveries = 0;
  let allIn: () => void = () => undefined;
  const everything = new Promise<void>((r) => (allIn = r));
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      deliveries++;
      const key = String(req.headers['idempotency-key']);
      const parsed: unknown = JSON.parse(body);
      const status: unknown =
        typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, 'status') : undefined;
      const error: unknown =
        typeof parsed === 'object' && parsed !== null ? Reflect.get(parsed, 'error') : undefined;
      if (!arrived.has(key)) arrived.set(key, { at: performance.now(), status, error });
      if (arrived.size >= plan.messages) allIn();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const addr = receiver.address();
  const hook = `http://127.0.0.1:${addr !== null && typeof addr === 'object' ? addr.port : 0}/hook`;
  const home = resolveHome({ CORRAL_HOME: dir });
  const log = createLogger({ level: 'error' });
  initHome({ home, log, out: () => undefined, err: () => undefined });
  saveConfig(home, {
    ...loadConfig(home),
    providers: { stand: { kind: 'anthropic', baseUrl: model.url, keySecret: 'K' } },
  });
  const store = openStore(home);
  store.putSecret('K', 'sk-stand-in-bench-daemon-0001');
  store.close();
  const names = Array.from({ length: plan.agents }, (_, i) => `a${String(i).padStart(3, '0')}`);
  for (const name of names) saveAgent(home, AgentConfig.parse({ name, model: 'stand:claude-bench' }));

  opts.progress(`starting corral up with ${plan.agents} agents`);
  const args = [BIN, 'up', '--port', '0', '--idle-timeout', '10m'];
  if (plan.maxSandboxes !== undefined) args.push('--max-sandboxes', String(plan.maxSandboxes));
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    CORRAL_HOME: dir,
    HOME: dir,
    CORRAL_LOG: 'warn',
  };
  const imageCache = process.env['CORRAL_IMAGE_CACHE'];
  if (imageCache !== undefined && imageCache !== '') env['CORRAL_IMAGE_CACHE'] = imageCache;
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr = (stderr + c.toString()).slice(-20_000);
        const m = /corral is up at (http:\/\/\S+)/.exec(stderr);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
      void exited.then(() => reject(new Error(`corral up exited:\n${stderr}`)));
    });
    const token = fs.readFileSync(path.join(dir, 'api-token'), 'utf8').trim();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const sentAt = new Map<string, number>();
    opts.progress(`sending ${plan.messages} messages, ${plan.clients} at a time`);
    const t0 = performance.now();
    let next = 0;
    const client = async (): Promise<void> => {
      for (let i = next++; i < plan.messages; i = next++) {
        const agent = names[i % names.length] ?? 'a000';
        const started = performance.now();
        const res = await fetch(`${url}/v1/agents/${agent}/messages`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ text: `message ${i}`, callback: hook }),
        });
        const body: unknown = await res.json();
        const id: unknown = typeof body === 'object' && body !== null ? Reflect.get(body, 'id') : undefined;
        if (res.status !== 202 || typeof id !== 'string')
          throw new Error(`POST ${res.status}: ${JSON.stringify(body)}`);
        sentAt.set(`reply:${id}`, started);
      }
    };
    await Promise.all(Array.from({ length: plan.clients }, client));
    opts.progress(
      `all accepted in ${((performance.now() - t0) / 1000).toFixed(1)} s; waiting for the replies`,
    );
    const timer = setInterval(
      () => opts.progress(`${arrived.size}/${plan.messages} replies delivered`),
      10_000,
    );
    try {
      await Promise.race([
        everything,
        new Promise((_r, reject) =>
          setTimeout(() => reject(new Error(`not all delivered: ${arrived.size}`)), DEADLINE_MS),
        ),
      ]);
    } finally {
      clearInterval(timer);
    }
    const seconds = (Math.max(...[...arrived.values()].map((a) => a.at)) - t0) / 1000;
    const latencies = [...arrived].map(([key, a]) => a.at - (sentAt.get(key) ?? NaN)).sort((x, y) => x - y);
    const metrics = await (await fetch(`${url}/metrics`, { headers })).text();
    const hostRssMiB = rssMiB(child.pid ?? 0, 'VmRSS');
    const hostPeakRssMiB = rssMiB(child.pid ?? 0, 'VmHWM');
    const starts = /^corral_sandboxes_started_total (\d+)$/m.exec(metrics)?.[1];
    return {
      plan,
      accepted: sentAt.size,
      deliveredKeys: [...arrived.keys()].filter((k) => sentAt.has(k)).length,
      deliveries,
      failed: [...arrived.values()].filter((a) => a.status !== 'done').length,
      failures: groupFailures([...arrived.values()].filter((a) => a.status !== 'done')),
      seconds,
      throughputPerS: plan.messages / seconds,
      latencyMs: {
        p50: quantile(latencies, 0.5),
        p99: quantile(latencies, 0.99),
        max: latencies.at(-1) ?? NaN,
      },
      hostRssMiB,
      hostPeakRssMiB,
      sandboxesStarted: Number(starts ?? NaN),
    };
  } finally {
    child.kill('SIGTERM');
    await exited;
    receiver.closeAllConnections();
    receiver.close();
    await model.close();
    // the agents' data volumes stay mounted after the host stops (by design): take them down first
    for (const name of names) await unmountAgentVolume(home, name).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function groupFailures(failed: { status: unknown; error: unknown }[]): { reason: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const f of failed) {
    const text = typeof f.error === 'string' ? f.error : `status ${String(f.status)}`;
    const reason = text.replace(/\d+/g, 'N').slice(0, 200);
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return [...counts].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count);
}

export function formatDaemonBench(r: DaemonBenchResult): string {
  const p = r.plan;
  return (
    `daemon: ${p.agents} agents, ${p.messages} messages through the API (${p.clients} clients), stand-in model\n` +
    `  delivered once: ${r.deliveredKeys}/${r.accepted} (${r.deliveries} webhook POSTs, ${r.failed} failed)\n` +
    `  throughput ${r.throughputPerS.toFixed(1)} messages/s over ${r.seconds.toFixed(1)} s; sandboxes started ${r.sandboxesStarted}\n` +
    `  accept → reply delivered: p50 ${r.latencyMs.p50.toFixed(0)} ms, p99 ${r.latencyMs.p99.toFixed(0)} ms, max ${r.latencyMs.max.toFixed(0)} ms\n` +
    `  host memory at the end: ${r.hostRssMiB.toFixed(0)} MiB RSS (peak ${r.hostPeakRssMiB.toFixed(0)} MiB)\n` +
    r.failures.map((f) => `  failed ×${f.count}: ${f.reason}\n`).join('')
  );
}
