// The gateway's view of an agent's egress policy follows its file: re-read after a change, refused when invalid.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveAgent } from '../config/agent-files.ts';
import type { HomePaths } from '../config/home.ts';
import { resolveHome } from '../config/home.ts';
import { AgentConfig } from '../config/schema.ts';
import { decideEgress } from '../policy/egress.ts';
import { agentPolicyReader } from './egress-policy.ts';

let home: HomePaths;
beforeEach(() => {
  home = resolveHome({ CORRAL_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-egress-')) });
  fs.mkdirSync(home.agentsDir, { recursive: true });
});
afterEach(() => fs.rmSync(home.root, { recursive: true, force: true }));

const pypi = { host: 'pypi.org', port: 443, method: 'CONNECT', path: '' };

describe('agentPolicyReader', () => {
  it('follows edits of the agent file', () => {
    saveAgent(home, AgentConfig.parse({ name: 'a', model: 'x:y' }));
    const read = agentPolicyReader(home);
    expect(decideEgress(read('a'), pypi).allow).toBe(false);
    expect(read('a')).toBe(read('a')); // unchanged file: parsed once
    saveAgent(home, AgentConfig.parse({ name: 'a', model: 'x:y', allow: ['pypi.org'] }));
    expect(decideEgress(read('a'), pypi)).toMatchObject({ allow: true, rule: 'pypi.org' });
  });

  it('throws for a missing agent or an invalid file, which the gateway turns into a denial', () => {
    const read = agentPolicyReader(home);
    expect(() => read('ghost')).toThrow();
    fs.writeFileSync(path.join(home.agentsDir, 'b.yaml'), 'name: b\nmodel: x:y\nallow: ["*"]\n');
    expect(() => read('b')).toThrow(/every host/);
    expect(() => read('../b')).toThrow();
  });
});
