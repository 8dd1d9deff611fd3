// Host-folder mounts: the resolver's refusals (sensitive names, symlinks out, symlinked parents, `..`, outside the
// allowlist, corral's home, overlapping mounts), each decided through the policy, and an allowed read-only mount
// inside a real bwrap sandbox (legacy layout and on the base image): readable, not writable, no descriptor leaks.
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentMount } from '../config/governance.ts';
import { resolveHome } from '../config/home.ts';
import type { HomePaths } from '../config/home.ts';
import { createBwrapBackend } from '../sandbox/bwrap/backend.ts';
import { devBaseImage, hasFuseOverlayfs } from '../sandbox/layer/testing.ts';
import { createSandboxRegistry } from '../sandbox/registry.ts';
import { contractSpec } from '../sandbox/testing/spec.ts';
import type { HostIds, SandboxBackend, SandboxSpec } from '../sandbox/types.ts';
import { createGvisorBackend } from '../sandbox/oci/gvisor.ts';
import { mountsUnder } from '../sandbox/oci/mounts.ts';
import { createRuncBackend } from '../sandbox/oci/runc.ts';
import { ociSkipReason, testRoot } from '../sandbox/oci/testing.ts';
import { openSqliteStore } from '../store/sqlite.ts';
import type { Store } from '../store/types.ts';
import { silentLogger } from '../util/log.ts';
import { agentMounts, closeMounts } from './agent-mounts.ts';
import { openGovernance } from './governance.ts';
import { checkMounts } from './mounts.ts';

const hasBwrap = spawnSync('bwrap', ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;
const image = devBaseImage();

let dir: string;
let allowed: string;
let home: HomePaths;
let store: Store;
beforeEach(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'corral-mounts-')));
  fs.chmodSync(dir, 0o755);
  allowed = path.join(dir, 'shared');
  fs.mkdirSync(path.join(allowed, 'data'), { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(allowed, 'data', 'hello.txt'), 'hello from the host\n', { mode: 0o644 });
  home = resolveHome({ CORRAL_HOME: path.join(dir, 'home') });
  fs.mkdirSync(home.root);
  store = openSqliteStore({ path: ':memory:', secretKey: randomBytes(32) });
});
afterEach(() => {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const m = (host: string, write = false): AgentMount => AgentMount.parse({ host, path: '/mnt/data', write });
const ctx = () => ({ allow: [allowed], home: home.root });
const refusal = (host: string): string | undefined => checkMounts([m(host)], ctx())[0]?.facts.refused;

describe('mount resolver', () => {
  it('allows a real folder under the allowlist, naming the allowlist root', () => {
    const [c] = checkMounts([m(path.join(allowed, 'data'))], ctx());
    expect(c?.facts).toEqual({ declared: true, allowedBy: allowed });
    expect(c?.resource).toBe(path.join(allowed, 'data'));
  });

  it('refuses sensitive paths, in the path or directly inside the folder', () => {
    for (const name of ['.ssh', '.aws', '.gnupg', '.kube', '.docker', '.env']) {
      fs.mkdirSync(path.join(allowed, name, 'sub'), { recursive: true });
      expect(refusal(path.join(allowed, name, 'sub')), name).toContain(`${name} is a sensitive path`);
    }
    expect(refusal(allowed)).toMatch(/contains \.(ssh|aws|gnupg|kube|docker|env), a sensitive path/);
  });

  it('refuses a symlink that leads out, and an allowed folder reached through a symlinked parent', () => {
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    fs.symlinkSync(outside, path.join(allowed, 'escape'));
    expect(refusal(path.join(allowed, 'escape'))).toContain('is a symbolic link');
    // the alias: the real path is allowed, but the path as written goes through a link
    fs.symlinkSync(allowed, path.join(dir, 'alias'));
    expect(refusal(path.join(dir, 'alias', 'data'))).toContain(
      `${path.join(dir, 'alias')} is a symbolic link`,
    );
  });

  it('refuses `..` and `.` tricks even where they resolve inside the allowlist', () => {
    expect(refusal(`${allowed}/data/../data`)).toContain('plain absolute path');
    expect(refusal(`${allowed}/../home`)).toContain('plain absolute path');
    expect(refusal(`${allowed}/./data`)).toContain('plain absolute path');
  });

  it('leaves a folder outside the allowlist unallowed, and decide() denies it', async () => {
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(outside);
    const [c] = checkMounts([m(outside)], ctx());
    expect(c?.facts).toEqual({ declared: true });
    const gov = openGovernance(home, store);
    await expect(agentMounts(gov, 'alpha', [m(outside)], ctx())).rejects.toThrow(/not under any folder/);
  });

  it('sees through a bind mount: a folder that is really a .ssh elsewhere is refused', () => {
    const info = `1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 8:1 /home/alice/.ssh ${allowed}/keys rw - ext4 /dev/sda1 rw\n`;
    fs.mkdirSync(path.join(allowed, 'keys'));
    const c = checkMounts([m(path.join(allowed, 'keys'))], { ...ctx(), mountinfo: info });
    expect(c[0]?.facts.refused).toContain('bind mount of /home/alice/.ssh');
    expect(
      checkMounts([m(path.join(allowed, 'data'))], { ...ctx(), mountinfo: info })[0]?.facts.refused,
    ).toBe(undefined);
  });

  it.skipIf(!isRoot)('sees through a real bind mount of a sensitive folder', () => {
    const secret = path.join(dir, 'alice', '.ssh');
    fs.mkdirSync(secret, { recursive: true });
    const alias = path.join(allowed, 'alias');
    fs.mkdirSync(alias);
    expect(spawnSync('mount', ['--bind', secret, alias]).status).toBe(0);
    try {
      expect(refusal(alias)).toMatch(/bind mount of .*\/alice\/\.ssh/);
    } finally {
      spawnSync('umount', [alias]);
    }
  });

  it("refuses corral's home and any folder containing it", () => {
    const c = { allow: [dir], home: home.root };
    expect(checkMounts([m(home.root)], c)[0]?.facts.refused).toContain("corral's home");
    expect(checkMounts([m(dir)], c)[0]?.facts.refused).toContain("corral's home");
  });

  it('refuses two mounts of overlapping folders, and two at one target', () => {
    const two = checkMounts(
      [
        AgentMount.parse({ host: allowed, path: '/mnt/a' }),
        AgentMount.parse({ host: `${allowed}/data`, path: '/mnt/b' }),
      ],
      ctx(),
    );
    expect(two.map((c) => c.facts.refused)).toEqual([
      expect.stringContaining('overlaps'),
      expect.stringContaining('overlaps'),
    ]);
    expect(() => AgentMount.array().parse([])).not.toThrow();
  });

  it('decides each mount through the policy and audits it; an operator deny rule wins', async () => {
    const gov = openGovernance(home, store);
    const target = path.join(allowed, 'data');
    const ok = await agentMounts(gov, 'alpha', [m(target)], ctx());
    expect(ok).toMatchObject([{ hostPath: target, target: '/mnt/data', readOnly: true }]);
    expect(fs.readlinkSync(`/proc/self/fd/${ok[0]?.fd ?? -1}`)).toBe(target);
    closeMounts(ok);
    const audit = store.listAudit({ limit: 5 }).find((e) => e.action === 'policy.decide');
    expect(audit).toMatchObject({
      actor: 'agent:alpha',
      subject: target,
      detail: { action: 'mount', effect: 'allow' },
    });
    fs.writeFileSync(
      home.policyFile,
      `version: 1\nrules:\n  - { id: no-data, effect: deny, action: mount, resource: "${allowed}/*" }\n`,
    );
    await expect(agentMounts(gov, 'alpha', [m(target)], ctx())).rejects.toThrow(/no-data|denied/);
  });

  it('a backend without mount support refuses a spec with mounts', async () => {
    let started = false;
    const plain: SandboxBackend = {
      name: 'plain',
      probe: () => Promise.resolve({ ok: true, detail: '' }),
      start: () => {
        started = true;
        return Promise.reject(new Error('not reached'));
      },
    };
    const reg = createSandboxRegistry([plain]);
    const spec = contractSpec(path.join(dir, 'sb'), undefined, ['true'], {
      mounts: [{ fd: 0, hostPath: allowed, target: '/mnt/data', readOnly: true }],
    });
    await expect(reg.get('plain').start(spec)).rejects.toThrow(/cannot mount host folders/);
    expect(started).toBe(false);
  });
});

async function runIn(
  spec: SandboxSpec,
  runDir: string,
  backend: SandboxBackend = createBwrapBackend({ log: silentLogger, runDir }),
): Promise<string> {
  const sb = await backend.start(spec);
  let out = '';
  sb.stdout.on('data', (d: Buffer) => (out += d.toString()));
  sb.stderr.on('data', (d: Buffer) => (out += d.toString()));
  await sb.exited;
  await sb.stop();
  return out;
}

const SCRIPT = [
  'cat /mnt/data/hello.txt',
  'touch /mnt/data/new 2>/dev/null && echo WROTE || echo READONLY',
  // no process inside holds a descriptor of the host folder
  `for f in /proc/[0-9]*/fd/*; do readlink "$f"; done 2>/dev/null | grep -c "${'$'}HOSTDIR" || true`,
].join('; ');

async function check(
  over: Partial<SandboxSpec>,
  ids: HostIds | undefined,
  backendFor?: (runDir: string) => SandboxBackend,
): Promise<void> {
  const target = path.join(allowed, 'data');
  const gov = openGovernance(home, store);
  const mounts = await agentMounts(gov, 'alpha', [m(target)], ctx());
  try {
    const sbDir = path.join(dir, 'sb');
    const spec = contractSpec(sbDir, ids, ['/bin/sh', '-c', SCRIPT], { mounts, ...over });
    spec.env = { ...spec.env, HOSTDIR: target };
    const runDir = path.join(dir, 'run');
    fs.mkdirSync(runDir, { mode: 0o711, recursive: true });
    const out = await runIn(spec, runDir, backendFor?.(runDir));
    expect(out).toContain('hello from the host');
    expect(out).toContain('READONLY');
    expect(out).not.toContain('WROTE');
    expect(out.trim().split('\n').at(-1)).toBe('0');
    expect(fs.existsSync(path.join(target, 'new'))).toBe(false);
  } finally {
    closeMounts(mounts);
  }
}

describe.skipIf(!hasBwrap)('mounts in a real bwrap sandbox', () => {
  const ids = isRoot ? { uid: 1_500_000_971, gid: 1_500_000_971 } : undefined;

  it('an allowed read-only mount is readable but not writable (host /usr layout)', async () => {
    await check({}, ids);
  }, 60_000);

  it('a mount with write: true is writable (where the folder lets the agent uid write)', async () => {
    const target = path.join(allowed, 'data');
    fs.chmodSync(target, 0o777);
    const mounts = await agentMounts(openGovernance(home, store), 'alpha', [m(target, true)], ctx());
    try {
      const spec = contractSpec(
        path.join(dir, 'sb'),
        ids,
        ['/bin/sh', '-c', 'echo hi > /mnt/data/out.txt && echo WROTE'],
        { mounts },
      );
      const runDir = path.join(dir, 'run');
      fs.mkdirSync(runDir, { mode: 0o711, recursive: true });
      expect(await runIn(spec, runDir)).toContain('WROTE');
      expect(fs.readFileSync(path.join(target, 'out.txt'), 'utf8')).toBe('hi\n');
    } finally {
      closeMounts(mounts);
    }
  }, 60_000);

  it.skipIf(image === undefined || !hasFuseOverlayfs)(
    'an allowed read-only mount is readable but not writable (on the base image)',
    async () => {
      const layerDir = path.join(dir, 'layer');
      fs.mkdirSync(layerDir, { mode: 0o700 });
      await check({ root: { imageDir: image ?? '', imageId: 'dev', layerDir } }, ids);
    },
    60_000,
  );
});

for (const [runtime, make] of [
  ['runc', (runDir: string) => createRuncBackend({ log: silentLogger, runDir })],
  ['runsc', (runDir: string) => createGvisorBackend({ log: silentLogger, runDir })],
] as const) {
  const skip = ociSkipReason(runtime);
  describe.skipIf(skip !== undefined)(
    `mounts in a real ${runtime} sandbox${skip ? ` (skipped: ${skip})` : ''}`,
    () => {
      it('an allowed read-only mount is readable but not writable, and nothing is left mounted', async () => {
        const root = testRoot(dir);
        await check({ ...(root ? { root } : {}) }, { uid: 1_500_000_972, gid: 1_500_000_972 }, make);
        expect(mountsUnder(path.join(dir, 'run'))).toEqual([]);
      }, 120_000);
    },
  );
}
