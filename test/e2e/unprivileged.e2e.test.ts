// corral run by an ordinary user (nobody): the same boundary, with root inside mapped to that user.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addProvider, createE2e, hasBwrap, workspaceOf } from './harness.ts';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

describe.skipIf(!hasBwrap || !isRoot)('corral run as an ordinary user', () => {
  let e: Awaited<ReturnType<typeof createE2e>>;
  beforeAll(async () => {
    e = await createE2e({ asUid: NOBODY });
    await e.setup([
      [['init']],
      addProvider('stand', 'anthropic', e.modelUrl, 'K'),
      [['secret', 'set', 'K'], 'sk-unprivileged'],
      [['agent', 'add', 'solo', '--model', 'stand:m']],
    ]);
  });
  afterAll(async () => e?.close());

  it('runs the tool as root inside, and what it writes belongs to the user outside', async () => {
    const r = await e.corral(['run', 'solo', 'bash: id -u; echo hi > mine.txt; ls /home 2>&1 | head -1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('tool said: 0\n');
    expect(r.stdout).toContain('No such file or directory');
    expect(fs.statSync(path.join(workspaceOf(e.home, 'solo'), 'mine.txt')).uid).toBe(NOBODY);
    expect(e.requests.at(-1)?.headers['x-api-key']).toBe('sk-unprivileged');
  });
});
