// Bad input and failing endpoints: a one-line error with a next step, a non-zero exit, and the message kept.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Step } from './harness.ts';
import { addProvider, createE2e, hasBwrap } from './harness.ts';

async function unusedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise((r) => s.close(r));
  return typeof a === 'object' && a !== null ? a.port : 0;
}

describe('corral errors (no sandbox needed)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  beforeAll(async () => {
    e = await createE2e();
  });
  afterAll(async () => e?.close());

  it('asks for init before anything else', async () => {
    const r = await e.corral(['agent', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not set up in .*\n {2}→ run: corral init/);
  });

  it('names an unknown agent, an unknown provider, bad names and bad URLs', async () => {
    expect((await e.corral(['init'])).code).toBe(0);
    const unknown = await e.corral(['run', 'ghost', 'hello']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("unknown agent 'ghost'");
    expect(unknown.stderr).toContain('corral agent add ghost');
    const badProvider = await e.corral(['agent', 'add', 'x', '--model', 'nowhere:m']);
    expect(badProvider.code).toBe(1);
    expect(badProvider.stderr).toContain("unknown provider 'nowhere'");
    const badName = await e.corral(['agent', 'add', '../evil']);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain('invalid');
    const badUrl = await e.corral([
      'provider',
      'add',
      'p',
      '--kind',
      'openai',
      '--base-url',
      'ftp://x',
      '--key-secret',
      'K',
    ]);
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toContain('http:// or https://');
    // the rejected message is still on record
    const audit = await e.corral(['audit', 'list', '--json', '--subject', 'ghost']);
    expect(audit.stdout).toContain('message.rejected');
  });

  it('reports a config file error with the field and the line', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    fs.writeFileSync(
      path.join(e.home, 'agents', 'broken.yaml'),
      'name: broken\nmodel: anthropic:m\nmaxSteps: lots\n',
    );
    const r = await e.corral(['run', 'broken', 'hi']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broken\.yaml:3: maxSteps:/);
  });

  it('refuses an empty secret and never prints a value', async () => {
    const empty = await e.corral(['secret', 'set', 'EMPTY'], '');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('empty secret');
    expect((await e.corral(['secret', 'set', 'VISIBLE'], 'value-must-not-print')).code).toBe(0);
    const list = await e.corral(['secret', 'list', '--json']);
    expect(list.stdout).toContain('VISIBLE');
    expect(list.stdout + list.stderr).not.toContain('value-must-not-print');
  });
});

describe.skipIf(!hasBwrap)('corral run against failing model endpoints (bwrap)', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  beforeAll(async () => {
    e = await createE2e();
    const port = await unusedPort();
    const steps: Step[] = [
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'STAND_KEY'),
      addProvider('standoai', 'openai', `${e.modelUrl}/v1`, 'STAND_KEY'),
      addProvider('down', 'anthropic', `http://127.0.0.1:${port}`, 'STAND_KEY'),
      addProvider('nokey', 'anthropic', e.modelUrl, 'NEVER_SET'),
      [['secret', 'set', 'STAND_KEY'], 'sk-errors'],
      [['agent', 'add', 'nokey', '--model', 'nokey:m']],
      [['agent', 'add', 'down', '--model', 'down:m']],
      [['agent', 'add', 'a401', '--model', 'stand:fail-401']],
      [['agent', 'add', 'a429', '--model', 'standoai:fail-429']],
      [['agent', 'add', 'a500', '--model', 'stand:fail-500']],
      [['agent', 'add', 'malformed', '--model', 'stand:malformed']],
      [['agent', 'add', 'truncated', '--model', 'standoai:truncated']],
    ];
    await e.setup(steps);
  });
  afterAll(async () => e?.close());

  const cases: [agent: string, message: RegExp, hint: RegExp][] = [
    ['nokey', /secret NEVER_SET .* is not set/, /corral secret set NEVER_SET/],
    ['down', /cannot reach provider 'down'/, /check the URL/],
    ['a401', /rejected the key.*401/, /corral secret set STAND_KEY/],
    ['a429', /rate limiting.*429/, /wait a little/],
    ['a500', /provider 'stand' failed.*500/, /try again later/],
    ['malformed', /could not read/, /speaks the protocol/],
    ['truncated', /could not read/, /speaks the protocol/],
  ];
  it.each(cases)('%s: one line, a hint, exit 1, message recorded as failed', async (agent, message, hint) => {
    const r = await e.corral(['run', agent, 'hello']);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(message);
    expect(lines[1]).toMatch(hint);
    expect(r.stderr).not.toContain('    at '); // no stack trace for an expected failure
    const db = e.db();
    try {
      const row = db
        .prepare(
          "select m.status, m.error from messages m join sessions s on s.id = m.session_id where s.agent = ? and m.role = 'user'",
        )
        .get(agent);
      expect(row).toMatchObject({ status: 'failed' });
      expect(JSON.stringify(row)).toMatch(message);
    } finally {
      db.close();
    }
  });
});
