// corral operator add|list|rm against a real $CORRAL_HOME: the token is printed once, only its sha256 is written,
// the policy file keeps its rules and comments, and the API's authenticate() admits exactly that token.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveHome } from '../../config/home.ts';
import { loadPolicy } from '../../config/policy-file.ts';
import { createLogger } from '../../util/log.ts';
import { authenticate, sha256Hex } from '../../web/auth.ts';
import type { CliContext } from '../context.ts';
import { buildProgram } from '../main.ts';

let home: ReturnType<typeof resolveHome>;
beforeEach(() => {
  home = resolveHome({ CORRAL_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-operator-')) });
  fs.writeFileSync(home.configFile, 'version: 1\nproviders: {}\n');
  fs.writeFileSync(home.keyFile, crypto.randomBytes(32), { mode: 0o600 });
});
afterEach(() => fs.rmSync(home.root, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  const ctx: CliContext = {
    home,
    log: createLogger({ level: 'error' }),
    out: (t) => (out += t),
    err: (t) => (err += t),
  };
  await buildProgram(ctx).parseAsync(['node', 'corral', ...args]);
  return { out, err };
}

describe('corral operator', () => {
  it('prints a token once, stores only its hash, and the API admits it with the role', async () => {
    fs.writeFileSync(
      home.policyFile,
      '# keep me\nversion: 1\nrules:\n  - { id: r1, effect: deny, action: egress, resource: "x:1" }\n',
    );
    const { out } = await cli('operator', 'add', 'vera', '--role', 'viewer');
    const token = out.trim();
    expect(token).toMatch(/^corral_[A-Za-z0-9_-]{43}$/);
    const text = fs.readFileSync(home.policyFile, 'utf8');
    expect(text).not.toContain(token);
    expect(text).toContain(sha256Hex(token));
    expect(text).toContain('# keep me');
    const policy = () => loadPolicy(home.policyFile);
    expect(policy()).toMatchObject({ ok: true, rules: [{ id: 'r1' }] });
    const creds = { apiToken: 'x'.repeat(40), policy };
    expect(authenticate(`Bearer ${token}`, creds)).toEqual({
      kind: 'operator',
      name: 'vera',
      role: 'viewer',
    });
    expect(authenticate(`Bearer ${token}x`, creds)).toBeUndefined();
    expect(JSON.parse((await cli('operator', 'list', '--json')).out)).toEqual([
      { name: 'vera', role: 'viewer' },
    ]);

    const again = (await cli('operator', 'add', 'vera', '--role', 'admin')).out.trim();
    expect(authenticate(`Bearer ${token}`, creds)).toBeUndefined(); // the old token no longer works
    expect(authenticate(`Bearer ${again}`, creds)).toMatchObject({ name: 'vera', role: 'admin' });
    await cli('operator', 'rm', 'vera');
    expect(authenticate(`Bearer ${again}`, creds)).toBeUndefined();
    await expect(cli('operator', 'rm', 'vera')).rejects.toThrow(/no operator 'vera'/);
    await expect(cli('operator', 'add', 'x', '--role', 'root')).rejects.toThrow(/admin or viewer/);
  });
});
