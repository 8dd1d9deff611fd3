// The router over a real pool of stand-in sandboxes: order within a session, parallelism across sessions up to
// the limits, queue positions, taking turns, and a drain that lets running turns finish or cancels them.
import { describe, expect, it } from 'vitest';
import { AgentConfig } from '../../config/schema.ts';
import type { InboundRow } from '../../store/daemon-types.ts';
import { createFakeClock } from '../../util/clock.ts';
import { CorralError } from '../../util/errors.ts';
import { silentLogger } from '../../util/log.ts';
import { fakeSandboxes } from '../pool/fake-sandboxes.ts';
import { createSandboxPool } from '../pool/sandbox-pool.ts';
import type { TurnOutcome } from './router.ts';
import { createRouter } from './router.ts';

let seq = 0;
const msg = (agent: string, session: string, text: string): InboundRow => ({
  id: `m${++seq}`,
  agent,
  sessionId: session,
  sessionKey: session,
  kind: 'user',
  hops: 0,
  source: 'api',
  text,
  status: 'received',
  error: null,
  attempts: 0,
  queueSeq: seq,
  replyTo: null,
  replyId: null,
  reply: null,
  createdAt: '',
  updatedAt: null,
});

interface Pending {
  text: string;
  session: string;
  sandbox: string;
  signal: AbortSignal;
  finish: (o?: TurnOutcome) => void;
}

function setup(
  opts: { maxSandboxes?: number; maxPerAgent?: number; quantum?: number; agents?: string[] } = {},
) {
  const clock = createFakeClock('2026-05-01T00:00:00Z');
  const sb = fakeSandboxes();
  const pool = createSandboxPool({
    maxSandboxes: opts.maxSandboxes ?? 8,
    maxPerAgent: opts.maxPerAgent ?? 8,
    idleMs: 60_000,
    clock,
    log: silentLogger,
    start: sb.start,
  });
  const known = new Set(opts.agents ?? ['a', 'b', 'c']);
  const running: Pending[] = [];
  const order: string[] = [];
  const failed: [string, string][] = [];
  let peak = 0;
  const router = createRouter({
    pool,
    log: silentLogger,
    quantum: opts.quantum ?? 8,
    agent: (name) =>
      known.has(name)
        ? AgentConfig.parse({ name, model: 'p:m' })
        : new CorralError('agent_unknown', `unknown agent '${name}'`),
    run: ({ message, lease, signal }) =>
      new Promise<TurnOutcome>((resolve) => {
        if (running.some((r) => r.session === message.sessionId)) throw new Error('overlapping turns');
        order.push(message.text);
        const entry: Pending = {
          text: message.text,
          session: message.sessionId,
          sandbox: lease.sandbox.id,
          signal,
          finish: (o = 'done') => {
            running.splice(running.indexOf(entry), 1);
            resolve(o);
          },
        };
        running.push(entry);
        peak = Math.max(peak, running.length);
      }),
    fail: (m, error) => void failed.push([m.text, error]),
  });
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
  /** Finishes the oldest running turn whose text matches, once it has started. */
  const finish = async (text: string, outcome?: TurnOutcome): Promise<Pending> => {
    for (let i = 0; i < 50; i++) {
      const r = running.find((p) => p.text === text);
      if (r) {
        r.finish(outcome);
        await tick();
        return r;
      }
      await tick();
    }
    throw new Error(`turn ${text} never started; running: ${running.map((r) => r.text).join(',')}`);
  };
  return { clock, sb, pool, router, running, order, failed, finish, tick, peak: () => peak };
}

describe('router', () => {
  it('runs the turns of one session in order, one at a time, on one warm sandbox', async () => {
    const t = setup();
    for (const text of ['1', '2', '3']) t.router.enqueue(msg('a', 's', text));
    await t.tick();
    expect(t.running.map((r) => r.text)).toEqual(['1']);
    expect(t.router.position('m2')).toEqual({ position: 1, waitingForSandbox: null });
    const sandboxes = [
      (await t.finish('1')).sandbox,
      (await t.finish('2')).sandbox,
      (await t.finish('3')).sandbox,
    ];
    expect(t.order).toEqual(['1', '2', '3']);
    expect(new Set(sandboxes).size).toBe(1);
    await t.router.idle();
  });

  it('runs sessions side by side up to the sandbox limit; the rest wait with a visible place', async () => {
    const t = setup({ maxSandboxes: 2 });
    t.router.enqueue(msg('a', 's1', 'a1'));
    t.router.enqueue(msg('b', 's2', 'b1'));
    t.router.enqueue(msg('c', 's3', 'c1'));
    t.router.enqueue(msg('c', 's4', 'c2'));
    await t.tick();
    expect(t.running.map((r) => r.text).sort()).toEqual(['a1', 'b1']);
    expect(t.router.position(`m${seq - 1}`)).toEqual({ position: 1, waitingForSandbox: 0 });
    expect(t.router.position(`m${seq}`)).toEqual({ position: 1, waitingForSandbox: 1 });
    expect(t.router.depths()).toEqual(
      new Map([
        ['a', 0],
        ['b', 0],
        ['c', 2],
      ]),
    );
    await t.finish('a1');
    await t.finish('c1');
    await t.finish('b1');
    await t.finish('c2');
    await t.router.idle();
    expect(t.peak()).toBe(2);
  });

  it('lets a busy session keep its sandbox for `quantum` turns, then gives others their turn', async () => {
    const t = setup({ maxSandboxes: 1, quantum: 2 });
    for (const text of ['A1', 'A2', 'A3']) t.router.enqueue(msg('a', 'sa', text));
    for (const text of ['B1', 'B2', 'B3']) t.router.enqueue(msg('b', 'sb', text));
    for (const text of ['A1', 'A2', 'B1', 'B2', 'A3', 'B3']) await t.finish(text);
    await t.router.idle();
    expect(t.order).toEqual(['A1', 'A2', 'B1', 'B2', 'A3', 'B3']);
    expect(t.sb.started).toEqual(['a#1', 'b#2', 'a#3', 'b#4']);
  });

  it('fails a message whose agent is gone, and one whose sandbox cannot start, and goes on', async () => {
    const t = setup();
    t.router.enqueue(msg('ghost', 's', 'lost'));
    t.sb.failNext();
    t.router.enqueue(msg('a', 's2', 'no sandbox'));
    t.router.enqueue(msg('a', 's2', 'fine'));
    await t.finish('fine');
    await t.router.idle();
    expect(t.failed).toEqual([
      ['lost', "unknown agent 'ghost'"],
      ['no sandbox', 'backend down'],
    ]);
  });

  it('starts the next turn on a fresh sandbox after a broken one', async () => {
    const t = setup();
    t.router.enqueue(msg('a', 's', '1'));
    t.router.enqueue(msg('a', 's', '2'));
    const first = await t.finish('1', 'broken');
    const second = await t.finish('2');
    expect(second.sandbox).not.toBe(first.sandbox);
    expect(t.sb.stopped).toContain(first.sandbox);
  });

  it('drains: no new turns, a running turn may finish within the grace period', async () => {
    const t = setup();
    t.router.enqueue(msg('a', 's', 'running'));
    t.router.enqueue(msg('a', 's', 'queued'));
    await t.tick();
    let graceOver: () => void = () => undefined;
    const drained = t.router.drain(30_000, () => new Promise<void>((r) => (graceOver = r)));
    expect(() => t.router.enqueue(msg('a', 's', 'late'))).toThrow(/stopping/);
    const r = await t.finish('running');
    await drained;
    expect(r.signal.aborted).toBe(false);
    expect(t.order).toEqual(['running']);
    graceOver();
  });

  it('drains: after the grace period running turns are cancelled', async () => {
    const t = setup();
    t.router.enqueue(msg('a', 's', 'slow'));
    await t.tick();
    const drained = t.router.drain(1, () => Promise.resolve());
    await t.tick();
    const slow = t.running[0];
    expect(slow?.signal.aborted).toBe(true);
    slow?.finish('requeued');
    await drained;
  });
});
