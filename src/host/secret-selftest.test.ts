// The start self-test as the host wires it (openHost): a sandbox whose environment carries a credential the host
// holds (a stored secret, the CA's private key) is refused, loudly; the same agent without the leak starts.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TestHost } from '../../test/fixtures/test-host.ts';
import { openTestHost } from '../../test/fixtures/test-host.ts';
import type { LaunchDeps } from './launch.ts';
import { launchSandbox } from './launch.ts';
import type { OpenedHost } from './open.ts';

const noBwrap = spawnSync('bwrap', ['--version']).status === 0 ? undefined : 'bwrap is not installed';
const SECRET = 'sk-live-secret-selftest-0123456789';
const agent = { name: 'leaky', backend: 'bwrap', grants: ['OPENAI_API_KEY'] };

/** Why launching was refused; a sandbox that started after all is stopped again (and the test fails). */
async function refusal(deps: LaunchDeps): Promise<string> {
  const started = await launchSandbox(deps, agent).catch((err: unknown) => String(err));
  if (typeof started === 'string') return started;
  await started.stop();
  return 'it started';
}

/** The host's launch deps with credentials that put `value` where the grant's sentinel belongs. */
function injecting(opened: OpenedHost, value: string): LaunchDeps {
  const creds = opened.launch.credentials;
  if (creds === undefined) throw new Error('openHost gave no credentials');
  return { ...opened.launch, credentials: { ...creds, sentinel: () => value } };
}

describe.skipIf(noBwrap !== undefined)(`start self-test against the host's secrets ${noBwrap ?? ''}`, () => {
  let host: TestHost;
  let opened: OpenedHost;
  beforeEach(() => {
    host = openTestHost({ prefix: 'corral-secret-selftest-', agents: [agent.name] });
    opened = host.opened;
    opened.store.putSecret('OPENAI_API_KEY', SECRET);
  });
  afterEach(() => host.close());

  it('refuses a sandbox with a stored secret in its environment, and audits why', async () => {
    expect(await refusal(injecting(opened, SECRET))).toMatch(
      /failed its start self-test: .*a secret value is in the environment: OPENAI_API_KEY/,
    );
    const audit = opened.store.listAudit().filter((e) => e.action === 'selftest.fail');
    expect(audit.map((e) => e.subject)).toEqual(['backend:bwrap']);
    // the same agent with its sentinel (the honest path) starts
    const s = await launchSandbox(opened.launch, agent);
    await s.stop();
  });

  it("refuses a sandbox with the gateway CA's private key in its environment", async () => {
    const key = fs.readFileSync(path.join(host.dir, 'ca.key'), 'utf8');
    expect(await refusal(injecting(opened, key))).toMatch(
      /a secret value is in the environment: OPENAI_API_KEY/,
    );
  });
});
