// Nothing lost, nothing twice: `corral up` is SIGKILLed mid-turn, twice, and each restart finds every unfinished
// message: an interrupted one runs again, the one queued behind it follows in order, one interrupted on every
// attempt fails with a reason the user sees, and every webhook arrives once. What the killed host left is removed.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Script } from '../fixtures/model-server.ts';
import type { Up } from './daemon-harness.ts';
import { eventually, field, processesMentioning, startReceiver, startUp, stopUp } from './daemon-harness.ts';
import { addProvider, createE2e, e2eScript, hasBwrap } from './harness.ts';

/** Model calls per user text: one per attempt of a turn (these turns use no tools). */
const calls = new Map<string, number>();
const script: Script = (req) => {
  const text = req.lastUserText ?? '';
  const n = (calls.get(text) ?? 0) + 1;
  calls.set(text, n);
  if (text === 'poison') return { kind: 'hang' }; // every attempt is cut short by a crash
  if (text === 'slow' && n === 1) return { kind: 'hang' };
  return e2eScript(req);
};
const modelCalls = (text: string): number => calls.get(text) ?? 0;

describe.skipIf(!hasBwrap)('corral up survives SIGKILL (bwrap)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const ups: Up[] = [];

  beforeAll(async () => {
    e = await createE2e({ script });
    await e.setup([
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'STAND_KEY'),
      [['secret', 'set', 'STAND_KEY'], 'sk-stand-in-crash-e2e-77c1'],
      [['agent', 'add', 'alpha', '--model', 'stand:claude-test']],
    ]);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    for (const up of ups) await stopUp(up, 'SIGKILL');
    await receiver?.close();
    await e?.close();
  });

  const start = async (): Promise<Up> => {
    const up = await startUp(e);
    ups.push(up);
    return up;
  };
  const send = async (up: Up, text: string, thread: string): Promise<string> => {
    const r = await up.api('POST', '/v1/agents/alpha/messages', { text, thread, callback: receiver.url });
    expect(r.status).toBe(202);
    return field(r.body, 'id');
  };
  const status = async (up: Up, id: string): Promise<unknown> =>
    (await up.api('GET', `/v1/messages/${id}`)).body;
  const until = (up: Up, id: string, want: string) =>
    eventually(async () => {
      const body = await status(up, id);
      return field(body, 'status') === want ? body : undefined;
    }, `${id} to be ${want}`);
  /** Reads the store as a second process would: the outbox row of a message. */
  const outboxStatus = (id: string): unknown => {
    const db = e.db();
    try {
      return db.prepare('SELECT status, attempts FROM outbox WHERE message_id = ?').get(id);
    } finally {
      db.close();
    }
  };
  const delivered = (id: string) =>
    eventually(() => {
      const row = outboxStatus(id);
      return JSON.stringify(row).includes('"delivered"') ? row : undefined;
    }, `the delivery of ${id}`);
  const kill = async (up: Up): Promise<void> => {
    up.child.kill('SIGKILL');
    expect(await up.exited).toEqual({ code: null, signal: 'SIGKILL' });
  };

  it(
    're-runs what was interrupted, fails what keeps being interrupted, and delivers each reply once',
    { timeout: 240_000 },
    async () => {
      // first host: one message done and delivered, then two turns hang in the model and the host is killed
      const up1 = await start();
      const done1 = await send(up1, 'before the crash', 'a');
      await until(up1, done1, 'done');
      await delivered(done1);
      const slow = await send(up1, 'slow', 'b');
      const behind = await send(up1, 'queued behind', 'b');
      const poison = await send(up1, 'poison', 'c');
      await until(up1, slow, 'running');
      await until(up1, poison, 'running');
      await eventually(
        () => (modelCalls('slow') === 1 && modelCalls('poison') === 1 ? true : undefined),
        'both model calls',
      );
      expect(await status(up1, behind)).toMatchObject({ status: 'queued', queue: { position: 1 } });
      await kill(up1);

      // second host: the slow turn runs again and the one behind it follows; poison hangs again and is killed again
      const up2 = await start();
      expect(up2.stderr()).toMatch(/recovered after an unclean stop.*"requeued":2/);
      expect(await until(up2, slow, 'done')).toMatchObject({ reply: 'echo: slow', attempts: 2 });
      expect(await until(up2, behind, 'done')).toMatchObject({ reply: 'echo: queued behind', attempts: 1 });
      await until(up2, poison, 'running');
      await eventually(() => (modelCalls('poison') === 2 ? true : undefined), 'the second poison call');
      await delivered(slow);
      await delivered(behind);
      await kill(up2);

      // third host: poison has used its attempts and fails with the reason; its failure is delivered
      const up3 = await start();
      expect(await until(up3, poison, 'failed')).toMatchObject({
        error: 'interrupted: the host stopped while this message was running; not retried after 2 attempts',
      });
      await delivered(poison);

      // each message went to the model as often as it was attempted, and its reply exists once
      expect([
        modelCalls('before the crash'),
        modelCalls('slow'),
        modelCalls('queued behind'),
        modelCalls('poison'),
      ]).toEqual([1, 2, 1, 2]);
      const conv = await up3.api('GET', '/v1/agents/alpha/messages?thread=b');
      expect(conv.body).toMatchObject({
        messages: [
          { role: 'user', text: 'slow', status: 'done' },
          { role: 'user', text: 'queued behind', status: 'done' },
          { role: 'assistant', text: 'echo: slow' },
          { role: 'assistant', text: 'echo: queued behind' },
        ],
      });
      // the turn behind saw the slow one's reply exactly once in its history
      const behindCall = e.requests.filter((r) => JSON.stringify(r.body).includes('queued behind')).at(-1);
      expect(JSON.stringify(behindCall?.body).match(/echo: slow/g)).toHaveLength(1);

      // every webhook key once: nothing lost, nothing twice
      const keys = receiver.deliveries.map((d) => d.key).sort();
      expect(keys).toEqual([`reply:${done1}`, `reply:${slow}`, `reply:${behind}`, `reply:${poison}`].sort());
      const failure = receiver.deliveries.find((d) => d.key === `reply:${poison}`)?.body;
      expect(failure).toMatchObject({ status: 'failed' });
      expect(String(failure?.['error'])).toContain('not retried after 2 attempts');

      // a clean stop at the end leaves nothing running and nothing mounted under the run directory
      up3.child.kill('SIGTERM');
      expect(await up3.exited).toEqual({ code: 0, signal: null });
      expect(processesMentioning(e.home)).toEqual([]);
      const runDir = path.join(e.home, 'run', 'daemon');
      expect(fs.readdirSync(runDir).filter((d) => d !== 'layers')).toEqual([]);
      expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(runDir);
    },
  );
});
