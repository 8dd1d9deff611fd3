// corral agent add|set|rm through the decision point, against a real $CORRAL_HOME and store: allowed for the local
// operator by default, denied by a rule (naming it, nothing written), held by an ask until approved, and --grant
// and --mount decided on their own (a mount of a sensitive path refused whatever the rules say).
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveHome } from '../../config/home.ts';
import { openGovernance } from '../../host/governance.ts';
import { openStore } from '../../host/open.ts';
import { LOCAL_OPERATOR } from '../../policy/actions.ts';
import { createLogger } from '../../util/log.ts';
import type { CliContext } from '../context.ts';
import { buildProgram } from '../main.ts';

let home: ReturnType<typeof resolveHome>;
let shared: string;
beforeEach(() => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'corral-agentauth-')));
  home = resolveHome({ CORRAL_HOME: path.join(root, 'home') });
  shared = path.join(root, 'shared');
  fs.mkdirSync(path.join(shared, 'docs'), { recursive: true });
  fs.mkdirSync(path.join(shared, 'keys', '.ssh'), { recursive: true });
  fs.mkdirSync(home.agentsDir, { recursive: true });
  fs.writeFileSync(
    home.configFile,
    'version: 1\nproviders:\n  anthropic: { kind: anthropic, baseUrl: "https://api.anthropic.com", keySecret: K }\n' +
      `mounts: { allow: ["${shared}"] }\n`,
  );
  fs.writeFileSync(home.keyFile, crypto.randomBytes(32), { mode: 0o600 });
});
afterEach(() => fs.rmSync(path.dirname(home.root), { recursive: true, force: true }));

async function cli(...args: string[]): Promise<void> {
  const ctx: CliContext = {
    home,
    log: createLogger({ level: 'error' }),
    out: () => undefined,
    err: () => undefined,
  };
  await buildProgram(ctx).parseAsync(['node', 'corral', ...args]);
}
const rules = (...lines: string[]) =>
  fs.writeFileSync(home.policyFile, `version: 1\nrules:\n${lines.join('\n')}\n`);
const agentFile = (name: string) => path.join(home.agentsDir, `${name}.yaml`);

describe('agent changes are authorized', () => {
  it('the local operator (admin) may add, set and remove by default; each decision is audited', async () => {
    await cli('agent', 'add', 'alpha', '--grant', 'GH', '--mount', `${shared}/docs:/mnt/docs`);
    expect(fs.readFileSync(agentFile('alpha'), 'utf8')).toContain('/mnt/docs');
    await cli('agent', 'set', 'alpha', '--unmount', '/mnt/docs');
    expect(fs.readFileSync(agentFile('alpha'), 'utf8')).not.toContain('/mnt/docs');
    await cli('agent', 'rm', 'alpha');
    expect(fs.existsSync(agentFile('alpha'))).toBe(false);
    const store = openStore(home);
    const decided = store
      .listAudit({ limit: 50 })
      .filter((e) => e.action === 'policy.decide')
      .map((e) => e.detail['action']);
    store.close();
    expect(decided).toEqual(
      expect.arrayContaining(['agent.create', 'secret.grant', 'mount', 'agent.update', 'agent.delete']),
    );
  });

  it('a deny rule refuses the change with its rule, and nothing is written', async () => {
    rules('  - { id: frozen, effect: deny, action: [agent.create, agent.delete], resource: "agent:*" }');
    await expect(cli('agent', 'add', 'alpha')).rejects.toThrow(/frozen|denied/);
    expect(fs.existsSync(agentFile('alpha'))).toBe(false);
    rules('  - { id: no-gh, effect: deny, action: secret.grant, resource: "secret:GH" }');
    await expect(cli('agent', 'add', 'alpha', '--grant', 'GH')).rejects.toThrow(/no-gh|denied/);
    await cli('agent', 'add', 'alpha');
    await expect(cli('agent', 'set', 'alpha', '--grant', 'GH')).rejects.toThrow(/no-gh|denied/);
    expect(fs.readFileSync(agentFile('alpha'), 'utf8')).not.toContain('GH');
  });

  it('refuses a mount of a sensitive or unlisted folder even for an admin', async () => {
    await expect(cli('agent', 'add', 'alpha', '--mount', `${shared}/keys/.ssh:/mnt/k`)).rejects.toThrow(
      /\.ssh is a sensitive path/,
    );
    await expect(cli('agent', 'add', 'alpha', '--mount', `${home.root}:/mnt/h`)).rejects.toThrow(
      /not under any folder|corral's home/,
    );
    expect(fs.existsSync(agentFile('alpha'))).toBe(false);
  });

  it('an ask holds the change as an approval; once approved the identical command goes through', async () => {
    rules('  - { id: review, effect: ask, action: agent.create }');
    await expect(cli('agent', 'add', 'alpha', '--model', 'anthropic:m1')).rejects.toThrow(/approval ap-/);
    expect(fs.existsSync(agentFile('alpha'))).toBe(false);
    const store = openStore(home);
    const [held] = store.listApprovals({ status: 'pending' });
    expect(held).toMatchObject({
      action: 'agent.create',
      principal: 'operator:cli',
      resource: 'agent:alpha',
    });
    expect(held?.payload).toMatchObject({ name: 'alpha', model: 'anthropic:m1' });
    openGovernance(home, store).approvals.approve(held?.id ?? '', LOCAL_OPERATOR);
    store.close();
    await cli('agent', 'add', 'alpha', '--model', 'anthropic:m1');
    expect(fs.existsSync(agentFile('alpha'))).toBe(true);
  });
});
