// `corral up` end to end: the HTTP API → router → real bwrap sandboxes → gateway → stand-in model, webhooks
// through the outbox, live events, agent files picked up while running, idle sandboxes stopped, a clean drain.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Up } from './daemon-harness.ts';
import { eventually, field, processesMentioning, startReceiver, startUp, stopUp } from './daemon-harness.ts';
import { addProvider, createE2e, hasBwrap } from './harness.ts';

describe.skipIf(!hasBwrap)('corral up (bwrap)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let up: Up;

  beforeAll(async () => {
    e = await createE2e();
    await e.setup([
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'STAND_KEY'),
      [['secret', 'set', 'STAND_KEY'], 'sk-stand-in-daemon-e2e-4d2f'],
      [['agent', 'add', 'alpha', '--model', 'stand:claude-test']],
      [['agent', 'add', 'beta', '--model', 'stand:claude-test']],
    ]);
    receiver = await startReceiver();
    up = await startUp(e, ['--idle-timeout', '3s', '--grace', '20s']);
  });
  afterAll(async () => {
    await stopUp(up);
    await receiver?.close();
    await e?.close();
  });

  const send = async (agent: string, body: Record<string, unknown>): Promise<string> => {
    const r = await up.api('POST', `/v1/agents/${agent}/messages`, body);
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return field(r.body, 'id');
  };
  const done = (id: string) =>
    eventually(async () => {
      const r = await up.api('GET', `/v1/messages/${id}`);
      const status = field(r.body, 'status');
      if (status === 'failed') throw new Error(`message failed: ${JSON.stringify(r.body)}`);
      return status === 'done' ? r.body : undefined;
    }, `message ${id}`);

  it('answers through the API from real sandboxes, one session per thread, and delivers each webhook once', async () => {
    const a1 = await send('alpha', {
      text: 'bash: echo "inside $(hostname)"',
      thread: 't1',
      callback: receiver.url,
    });
    const b1 = await send('beta', { text: 'hello beta', thread: 't1' });
    const a2 = await send('alpha', { text: 'second', thread: 't1', callback: receiver.url });
    const a3 = await send('alpha', { text: 'other thread', thread: 't2' });
    expect(await done(a1)).toMatchObject({
      agent: 'alpha',
      thread: 't1',
      reply: 'tool said: inside corral\n\n[exit code 0]',
    });
    expect(await done(a2)).toMatchObject({ reply: 'echo: second', attempts: 1 });
    expect(await done(b1)).toMatchObject({ agent: 'beta', reply: 'echo: hello beta' });
    await done(a3);
    const conv = await up.api('GET', '/v1/agents/alpha/messages?thread=t1');
    expect(conv.body).toMatchObject({
      messages: [
        { role: 'user', text: 'bash: echo "inside $(hostname)"' },
        { role: 'user', text: 'second' },
        { role: 'assistant', text: 'tool said: inside corral\n\n[exit code 0]' },
        { role: 'assistant', text: 'echo: second' },
      ],
    });
    // the second turn saw the first: one session for (alpha, api, t1), none shared with t2
    const lastAlpha = e.requests.filter((q) => JSON.stringify(q.body).includes('second')).at(-1);
    expect(JSON.stringify(lastAlpha?.body)).toContain('inside $(hostname)');
    const t2 = e.requests.filter((q) => JSON.stringify(q.body).includes('other thread')).at(-1);
    expect(JSON.stringify(t2?.body)).not.toContain('second');
    await eventually(() => (receiver.deliveries.length >= 2 ? true : undefined), 'webhooks');
    expect(receiver.deliveries.map((d) => d.key).sort()).toEqual([`reply:${a1}`, `reply:${a2}`].sort());
    expect(receiver.deliveries.find((d) => d.key === `reply:${a2}`)?.body).toMatchObject({
      id: a2,
      agent: 'alpha',
      status: 'done',
      reply: 'echo: second',
    });
  });

  it('streams runs, tool calls and replies; corral logs prints them', async () => {
    const id = await send('beta', { text: 'bash: echo logged' });
    await done(id);
    const logs = await e.corral(['logs', 'beta']);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/beta\s+tool\.call\s+bash/);
    expect(logs.stdout).toMatch(/beta\s+reply\s+.*tool said: logged/);
    expect(logs.stdout).not.toMatch(/\balpha\b/);
  });

  it('reports queue depths, sandboxes, turn latency and tokens in /metrics, and health', async () => {
    const m = await up.api('GET', '/metrics');
    const text = String(m.body);
    expect(text).toMatch(/^corral_turn_duration_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(/^corral_tokens_total\{agent="alpha",model="claude-test",type="input"\} [1-9]\d*$/m);
    expect(text).toMatch(/^corral_sandboxes\{state="idle"\} \d+$/m);
    // the agents' environments: under their warm sandboxes, or kept idle once those stopped (either, by timing)
    const layers = (state: string): number =>
      Number(new RegExp(`^corral_agent_layers\\{state="${state}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    expect(layers('in_use') + layers('idle')).toBeGreaterThanOrEqual(1);
    // every sandbox start went through the start queue (none waiting now)
    expect(text).toMatch(/^corral_sandbox_start_wait_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(/^corral_sandbox_starts\{state="waiting"\} 0$/m);
    expect(text).toMatch(/^corral_messages_total\{kind="user",outcome="done"\} [1-9]\d*$/m);
    expect((await up.api('GET', '/healthz')).body).toMatchObject({ status: 'ok', agents: 2 });
  });

  it('picks up a new agent file without a restart, and keeps the last good one when a file breaks', async () => {
    await e.setup([[['agent', 'add', 'gamma', '--model', 'stand:claude-test']]]);
    const g = await eventually(async () => {
      const r = await up.api('POST', '/v1/agents/gamma/messages', { text: 'new here' });
      return r.status === 202 ? field(r.body, 'id') : undefined;
    }, 'gamma to be known');
    expect(await done(g)).toMatchObject({ reply: 'echo: new here' });
    const file = path.join(e.home, 'agents', 'alpha.yaml');
    const good = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, good.replace(/^maxSteps: \d+$/m, 'maxSteps: many'));
    await eventually(() => (up.stderr().includes(`${file}:`) ? true : undefined), 'the reload error');
    expect(up.stderr()).toMatch(/keeping the last good definition.*maxSteps/);
    expect(await done(await send('alpha', { text: 'still here' }))).toMatchObject({
      reply: 'echo: still here',
    });
    fs.writeFileSync(file, good);
  });

  it('stops a session’s sandbox once it has been idle, and starts a new one for the next message', async () => {
    await done(await send('beta', { text: 'bash: echo kept > /root/note; echo wrote', thread: 'idle' }));
    await eventually(async () => {
      const h = await up.api('GET', '/healthz');
      return JSON.stringify(h.body).includes('"idle":0,"stopping":0') ? true : undefined;
    }, 'idle sandboxes to stop');
    // the agent's environment stays mounted for its next sandbox, offered to whoever needs it meanwhile
    const layerDir = path.join(e.home, 'data', 'beta', 'layer');
    expect(fs.existsSync(path.join(layerDir, 'idle'))).toBe(true);
    expect(String((await up.api('GET', '/metrics')).body)).toMatch(
      /^corral_agent_layers\{state="idle"\} [1-9]\d*$/m,
    );
    expect(fs.readFileSync(path.join(layerDir, 'upper', 'root', 'note'), 'utf8')).toBe('kept\n');
    // `agent reset` from another process takes that mount over instead of being refused
    const reset = await e.corral(['agent', 'reset', 'beta']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(fs.existsSync(path.join(layerDir, 'upper', 'root', 'note'))).toBe(false);
    const after = await done(
      await send('beta', { text: 'bash: cat /root/note || echo gone', thread: 'idle' }),
    );
    expect(field(after, 'reply')).toContain('gone');
  });

  it('writes a systemd user unit that runs corral up on this home', async () => {
    const r = await e.corral(['service', 'install', '--port', '7099']);
    expect(r.code, r.stderr).toBe(0);
    const unit = fs.readFileSync(path.join(e.home, '.config', 'systemd', 'user', 'corral.service'), 'utf8');
    expect(unit).toContain(`Environment="CORRAL_HOME=${e.home}"`);
    expect(unit).toMatch(/^ExecStart=".*node" ".*bin\/corral\.js" "up" "--port" "7099"/m);
    expect(r.stderr).toContain('systemctl --user enable --now corral');
    expect((await e.corral(['service', 'install'])).stderr).toContain('already exists');
  });

  it('refuses a second corral up on the same home', async () => {
    const second = await e.corral(['up', '--port', '0']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('corral up is already running');
  });

  it('drains on SIGTERM: the running turn finishes, then nothing is left running', async () => {
    const id = await send('alpha', { text: 'bash: sleep 2; echo slept' });
    await eventually(async () => {
      const r = await up.api('GET', `/v1/messages/${id}`);
      return field(r.body, 'status') === 'running' ? true : undefined;
    }, 'the turn to start');
    up.child.kill('SIGTERM');
    expect(await up.exited).toEqual({ code: 0, signal: null });
    const db = e.db();
    try {
      const row = db.prepare('SELECT status, error FROM messages WHERE id = ?').get(id);
      expect(row).toEqual({ status: 'done', error: null });
    } finally {
      db.close();
    }
    expect(processesMentioning(e.home)).toEqual([]);
    // no sandbox's run directory and no layer mount is left (agents' data volumes stay mounted by design)
    const runDir = path.join(e.home, 'run', 'daemon');
    expect(fs.readdirSync(runDir).filter((d) => d !== 'layers')).toEqual([]);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(runDir);
    expect(fs.existsSync(path.join(e.home, 'run', 'daemon.json'))).toBe(false);
  });
});
