// The core slice end to end: `corral run` → host → bwrap sandbox → runtime → gateway → stand-in model, and back.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Step } from './harness.ts';
import { addProvider, createE2e, hasBwrap, workspaceOf } from './harness.ts';

const KEY = 'sk-ant-e2e-REAL-KEY-7f3a9c1b2d';
const OPENAI_KEY = 'sk-openai-e2e-REAL-KEY-55aa';

describe.skipIf(!hasBwrap)('corral run (bwrap)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;

  beforeAll(async () => {
    e = await createE2e();
    const steps: Step[] = [
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'STAND_KEY'),
      addProvider('standoai', 'openai', `${e.modelUrl}/v1`, 'OAI_KEY'),
      [['secret', 'set', 'STAND_KEY'], KEY],
      [['secret', 'set', 'OAI_KEY'], OPENAI_KEY],
      [['agent', 'add', 'alpha', '--model', 'stand:claude-test']],
      [['agent', 'add', 'beta', '--model', 'standoai:gpt-test']],
    ];
    await e.setup(steps);
  });
  afterAll(async () => e?.close());

  it('runs a bash tool call inside the sandbox (Anthropic wire protocol)', async () => {
    const r = await e.corral([
      'run',
      'alpha',
      'bash: echo "inside as $(id -u) on $(hostname)"; echo persisted > note.txt',
    ]);
    expect(r.stderr).toContain('⚙ bash');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('tool said: inside as 0 on corral');
    // the file the agent wrote is in its workspace on the host
    expect(fs.readFileSync(path.join(workspaceOf(e.home, 'alpha'), 'note.txt'), 'utf8')).toBe('persisted\n');
  });

  it('keeps the workspace across runs', async () => {
    const r = await e.corral(['run', 'alpha', 'bash: cat /workspace/note.txt']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('tool said: persisted');
  });

  it('runs through the OpenAI wire protocol too, and a second agent cannot see the first one', async () => {
    const alphaHostPath = workspaceOf(e.home, 'alpha');
    const r = await e.corral([
      'run',
      'beta',
      `bash: ls -A /workspace | tr "\\n" ","; echo; ls ${alphaHostPath} 2>&1; find / -name note.txt -not -path "/proc/*" 2>/dev/null | wc -l`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No such file or directory');
    expect(r.stdout).not.toContain('note.txt');
    expect(r.stdout).toMatch(/tool said: [^\n]*\n[^\n]*\n0\b/);
    const oai = e.requests.filter((q) => q.api === 'openai');
    expect(oai.length).toBeGreaterThanOrEqual(2);
    expect(oai.every((q) => q.headers['authorization'] === `Bearer ${OPENAI_KEY}`)).toBe(true);
  });

  it('cannot reach a server on the host loopback', async () => {
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.end('HOST-SECRET-BANNER\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const r = await e.corral([
        'run',
        'alpha',
        `bash: (exec 3<>/dev/tcp/127.0.0.1/${port} && cat <&3) 2>&1; echo "rc=$?"`,
      ]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Connection refused');
      expect(r.stdout).not.toContain('HOST-SECRET-BANNER');
      expect(connections).toBe(0);
    } finally {
      server.close();
    }
  });

  it('sends the real key to the model endpoint while nothing inside the sandbox holds it', async () => {
    // The pattern is written hex-escaped to a file, so neither this command line nor grep's own holds the key.
    const hex = [...Buffer.from(KEY)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
    const r = await e.corral([
      'run',
      'alpha',
      `bash: printf '${hex}' > /tmp/.p; grep -rlsF -f /tmp/.p --exclude=.p /proc/[0-9]*/environ /proc/[0-9]*/cmdline /workspace /tmp /root /opt /run /etc | wc -l; env | grep -cF -f /tmp/.p`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/tool said: 0\n0/);
    const anthropic = e.requests.filter((q) => q.api === 'anthropic');
    expect(anthropic.length).toBeGreaterThanOrEqual(2);
    expect(anthropic.every((q) => q.headers['x-api-key'] === KEY)).toBe(true);
    // no request body (which carries everything the runtime knows) ever contained the key
    expect(JSON.stringify(anthropic.map((q) => q.body))).not.toContain(KEY);
  });

  it('chat keeps one warm sandbox across messages (its /tmp survives between turns)', async () => {
    const r = await e.corral(['chat', 'alpha'], 'bash: echo warm-$$ > /tmp/w; echo ok\nbash: cat /tmp/w\n\n');
    expect(r.code, r.stderr).toBe(0);
    const said = [...r.stdout.matchAll(/tool said: (.*)/g)].map((m) => m[1]);
    expect(said[0]).toBe('ok');
    expect(said[1]).toMatch(/^warm-\d+$/);
  });

  it('records messages, runs, tool calls, usage and a verifiable audit trail', async () => {
    const db = e.db();
    try {
      const done = db
        .prepare("select count(*) as n from messages where role = 'user' and status = 'done'")
        .get();
      expect(done).toEqual({ n: 7 });
      const tools = db.prepare("select count(*) as n from tool_calls where name = 'bash'").get();
      expect(tools).toEqual({ n: 7 });
      const usage = db.prepare('select count(*) as n from usage').get();
      expect(usage).toEqual({ n: 14 });
    } finally {
      db.close();
    }
    // the sandboxes' lifecycle and the self-test that let the backend run are on the record too
    const shown = await e.corral(['audit', 'show', '--limit', '5000', '--json']);
    const actions = new Set(
      z
        .array(z.object({ action: z.string() }))
        .parse(JSON.parse(shown.stdout))
        .map((r) => r.action),
    );
    for (const a of ['sandbox.start', 'sandbox.stop', 'selftest.pass']) expect(actions, a).toContain(a);
    const v = await e.corral(['audit', 'verify']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/audit chain intact: \d+ entries/);
    const raw = fs.readFileSync(path.join(e.home, 'corral.db'));
    expect(raw.includes(Buffer.from(KEY))).toBe(false);
  });
});
