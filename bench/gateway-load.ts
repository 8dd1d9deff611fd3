// Child process of the gateway bench: the origin and the load generator, kept out of the gateway's process so
// the gateway has its own event loop, as in production. Speaks one JSON line each way on stdio.
import http from 'node:http';
import readline from 'node:readline';
import { z } from 'zod';
import { startOrigin } from './gateway-origin.ts';

const Plan = z.object({
  socketPath: z.string(),
  bareSocketPath: z.string(),
  latencyRequests: z.number().int().positive(),
  throughputMs: z.number().int().positive(),
  concurrency: z.number().int().positive(),
  bigRepeats: z.number().int().positive(),
});
type Send = () => Promise<number>;

function sender(opts: http.RequestOptions, body?: string): Send {
  return () =>
    new Promise((resolve, reject) => {
      const req = http.request(opts, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(bytes) : reject(new Error(`HTTP ${String(res.statusCode)}`)),
        );
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
}

async function latency(a: Send, b: Send, n: number): Promise<[number[], number[]]> {
  const out: [number[], number[]] = [[], []];
  for (let i = 0; i < Math.min(100, n); i++) {
    await a(); // warm up connections and code paths on both sides
    await b();
  }
  for (let i = 0; i < n; i++) {
    for (const [j, send] of [a, b].entries()) {
      const t0 = performance.now();
      await send();
      out[j]?.push(performance.now() - t0);
    }
  }
  return out;
}

const lines = readline.createInterface({ input: process.stdin });
const fromParent = lines[Symbol.asyncIterator]();

/** Tells the parent a measured phase starts or ends, and waits for its answer (it samples its CPU time then). */
async function mark(phase: string, requests?: number): Promise<void> {
  process.stdout.write(
    JSON.stringify({ mark: phase, ...(requests === undefined ? {} : { requests }) }) + '\n',
  );
  await fromParent.next();
}

async function throughput(
  send: Send,
  concurrency: number,
  ms: number,
  phase?: string,
): Promise<{ rps: number; requests: number }> {
  if (phase !== undefined) await mark(`${phase}:start`);
  const t0 = performance.now();
  let done = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() - t0 < ms) {
      await send();
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const rps = done / ((performance.now() - t0) / 1000);
  if (phase !== undefined) await mark(`${phase}:end`, done);
  return { rps, requests: done };
}

async function big(send: Send, repeats: number): Promise<{ ms: number[]; bytes: number }> {
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    bytes = await send();
    ms.push(performance.now() - t0);
  }
  return { ms, bytes };
}

async function main(): Promise<void> {
  const origin = await startOrigin();
  const { port } = origin;
  process.stdout.write(JSON.stringify({ port }) + '\n');
  const first = await fromParent.next();
  if (first.done === true) throw new Error('no plan from the parent');
  const plan = Plan.parse(JSON.parse(first.value));
  const tcp = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const unix = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const direct = { host: '127.0.0.1', port, agent: tcp };
  const viaBare = (p: string) => ({
    socketPath: plan.bareSocketPath,
    agent: unix,
    path: `http://127.0.0.1:${port}${p}`,
    headers: { host: `127.0.0.1:${port}` },
  });
  const viaProxy = (p: string) => ({
    socketPath: plan.socketPath,
    agent: unix,
    path: `http://127.0.0.1:${port}${p}`,
    headers: { host: `127.0.0.1:${port}` },
  });
  const json = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'k' };
  const ask = (model: string): string =>
    JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  const model = (big: boolean) => ({
    method: 'POST',
    headers: json,
    path: '/v1/messages',
    body: ask(big ? 'bench-big' : 'bench-model'),
  });
  const pairs = {
    proxy: {
      bare: sender(viaBare('/small')),
      small: [sender({ ...direct, path: '/small' }), sender(viaProxy('/small'))],
      big: [sender({ ...direct, path: '/big' }), sender(viaProxy('/big'))],
    },
    model: {
      bare: sender(
        { ...model(false), ...viaBare('/v1/messages'), headers: { ...json, host: `127.0.0.1:${port}` } },
        model(false).body,
      ),
      small: [
        sender({ ...direct, ...model(false) }, model(false).body),
        sender(
          { socketPath: plan.socketPath, agent: unix, ...model(false), path: '/model/stand/v1/messages' },
          model(false).body,
        ),
      ],
      big: [
        sender({ ...direct, ...model(true) }, model(true).body),
        sender(
          { socketPath: plan.socketPath, agent: unix, ...model(true), path: '/model/stand/v1/messages' },
          model(true).body,
        ),
      ],
    },
  } as const;
  const result: Record<string, unknown> = {};
  for (const [route, p] of Object.entries(pairs)) {
    const [d, g] = p.small;
    const [dl, gl] = await latency(d, g, plan.latencyRequests);
    const direct = await throughput(d, plan.concurrency, plan.throughputMs);
    const bare = await throughput(p.bare, plan.concurrency, plan.throughputMs, `${route}.bare`);
    const gateway = await throughput(g, plan.concurrency, plan.throughputMs, `${route}.gateway`);
    const [bd, bg] = p.big;
    const bigs = [await big(bd, plan.bigRepeats), await big(bg, plan.bigRepeats)];
    result[route] = {
      latencyMs: { direct: dl, gateway: gl },
      rps: { direct: direct.rps, bare: bare.rps, gateway: gateway.rps },
      big: { direct: bigs[0], gateway: bigs[1] },
    };
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  lines.close();
  tcp.destroy();
  unix.destroy();
  await origin.close();
}

await main();
