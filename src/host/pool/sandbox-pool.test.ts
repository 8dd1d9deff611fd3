// The sandbox pool with stand-in sandboxes and a fake clock: warm reuse, both limits, idle stop, eviction order.
import { describe, expect, it } from 'vitest';
import { AgentConfig } from '../../config/schema.ts';
import { createFakeClock } from '../../util/clock.ts';
import { silentLogger } from '../../util/log.ts';
import { fakeSandboxes } from './fake-sandboxes.ts';
import { createSandboxPool } from './sandbox-pool.ts';

const agent = (name: string, over: Record<string, unknown> = {}): AgentConfig =>
  AgentConfig.parse({ name, model: 'p:m', ...over });

function setup(limits: { maxSandboxes?: number; maxPerAgent?: number; idleMs?: number } = {}) {
  const clock = createFakeClock('2026-05-01T00:00:00Z');
  const sb = fakeSandboxes();
  const pool = createSandboxPool({
    maxSandboxes: limits.maxSandboxes ?? 4,
    maxPerAgent: limits.maxPerAgent ?? 4,
    idleMs: limits.idleMs ?? 60_000,
    clock,
    log: silentLogger,
    start: sb.start,
  });
  return { clock, sb, pool };
}

const settled = async <T>(p: Promise<T>): Promise<'pending' | T> => {
  await new Promise((r) => setImmediate(r));
  return Promise.race([p, Promise.resolve('pending' as const)]);
};

describe('sandbox pool', () => {
  it('keeps a session’s sandbox warm between turns and gives each session its own', async () => {
    const { sb, pool } = setup();
    const a = agent('a');
    const first = await pool.acquire('s1', a);
    first.release();
    const again = await pool.acquire('s1', a);
    expect(again.sandbox.id).toBe(first.sandbox.id);
    const other = await pool.acquire('s2', a);
    expect(other.sandbox.id).not.toBe(first.sandbox.id);
    expect(sb.started).toEqual(['a#1', 'a#2']);
    expect(pool.stats()).toMatchObject({ busy: 2, idle: 0 });
  });

  it('refuses a second turn in the same session while one runs', async () => {
    const { pool } = setup();
    await pool.acquire('s1', agent('a'));
    await expect(pool.acquire('s1', agent('a'))).rejects.toMatchObject({ code: 'session_busy' });
  });

  it('holds the global limit: a third session waits, then takes the place of the idle one used longest ago', async () => {
    const { clock, sb, pool } = setup({ maxSandboxes: 2 });
    const l1 = await pool.acquire('s1', agent('a'));
    const l2 = await pool.acquire('s2', agent('b'));
    const third = pool.acquire('s3', agent('c'));
    expect(await settled(third)).toBe('pending');
    expect(pool.waitingAhead('s3')).toBe(0);
    expect(pool.stats()).toMatchObject({ busy: 2, waiting: 1 });
    await clock.advance(1000);
    l2.release(); // released first: used longest ago
    await clock.advance(1000);
    l1.release();
    const l3 = await third;
    expect(l3.sandbox.id).toBe('c#3');
    expect(sb.stopped).toEqual(['b#2']);
    expect(sb.live.size).toBe(2);
  });

  it('holds the per-agent limit without blocking other agents', async () => {
    const { sb, pool } = setup({ maxSandboxes: 4, maxPerAgent: 1 });
    const a1 = await pool.acquire('a1', agent('a'));
    const a2 = pool.acquire('a2', agent('a'));
    const b1 = pool.acquire('b1', agent('b')); // behind a2 in line, but a2 waits only for its own agent
    expect(await settled(a2)).toBe('pending');
    expect((await b1).sandbox.id).toBe('b#2');
    a1.release(); // idle now: a2 makes room by stopping it
    expect((await a2).sandbox.id).toBe('a#3');
    expect(sb.stopped).toEqual(['a#1']);
  });

  it('stops an idle sandbox after the idle timeout and starts a new one for the next turn', async () => {
    const { clock, sb, pool } = setup({ idleMs: 60_000 });
    (await pool.acquire('s1', agent('a'))).release();
    await clock.advance(59_999);
    expect(sb.stopped).toEqual([]);
    await clock.advance(1);
    expect(sb.stopped).toEqual(['a#1']);
    expect(pool.stats()).toMatchObject({ idle: 0, busy: 0, stopping: 0 });
    expect((await pool.acquire('s1', agent('a'))).sandbox.id).toBe('a#2');
  });

  it('a turn keeps its sandbox from timing out: the idle clock starts at release', async () => {
    const { clock, sb, pool } = setup({ idleMs: 1000 });
    const l = await pool.acquire('s1', agent('a'));
    await clock.advance(5000);
    expect(sb.stopped).toEqual([]);
    l.release();
    await clock.advance(1000);
    expect(sb.stopped).toEqual(['a#1']);
  });

  it('replaces a broken sandbox, one whose definition changed, and one that died while idle', async () => {
    const { sb, pool } = setup();
    (await pool.acquire('s1', agent('a'))).release({ broken: true });
    await new Promise((r) => setImmediate(r));
    const l2 = await pool.acquire('s1', agent('a'));
    expect(l2.sandbox.id).toBe('a#2');
    l2.release();
    const l3 = await pool.acquire('s1', agent('a', { grants: ['GH_TOKEN'] }));
    expect(l3.sandbox.id).toBe('a#3');
    l3.release();
    sb.kill('a#3');
    await new Promise((r) => setImmediate(r));
    expect(pool.stats().idle).toBe(0);
    expect((await pool.acquire('s1', agent('a', { grants: ['GH_TOKEN'] }))).sandbox.id).toBe('a#4');
    expect(sb.stopped).toEqual(['a#1', 'a#2', 'a#3']);
  });

  it('a failed start frees its place and is reported to that session only', async () => {
    const { sb, pool } = setup({ maxSandboxes: 1 });
    sb.failNext();
    await expect(pool.acquire('s1', agent('a'))).rejects.toThrow('backend down');
    expect(pool.stats()).toMatchObject({ starting: 0, busy: 0 });
    expect((await pool.acquire('s2', agent('a'))).sandbox.id).toBe('a#1');
  });

  it('stopAll refuses waiters and stops every sandbox, busy ones included', async () => {
    const { sb, pool } = setup({ maxSandboxes: 1 });
    await pool.acquire('s1', agent('a'));
    const waiting = pool.acquire('s2', agent('b'));
    await pool.stopAll();
    await expect(waiting).rejects.toMatchObject({ code: 'draining' });
    expect(sb.live.size).toBe(0);
    await expect(pool.acquire('s3', agent('c'))).rejects.toMatchObject({ code: 'draining' });
  });
});
