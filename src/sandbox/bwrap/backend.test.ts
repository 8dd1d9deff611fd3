// Real bubblewrap sandboxes: the self-test must pass as root (agent uid) and as an ordinary user.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { corralAsUser } from '../../../test/fixtures/as-user.ts';
import { silentLogger } from '../../util/log.ts';
import { selfTest } from '../self-test.ts';
import { createBwrapBackend } from './backend.ts';
import { probeBwrap } from './probe.ts';

const hasBwrap = spawnSync('bwrap', ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

describe.skipIf(!hasBwrap)('bwrap backend', () => {
  it('probes as available', () => {
    expect(probeBwrap(isRoot)).toMatchObject({ ok: true });
  });

  it('passes the isolation self-test with the agent uid it is given (as root) or the caller (otherwise)', async () => {
    const ids = isRoot ? { uid: 1_500_000_999, gid: 1_500_000_999 } : undefined;
    const r = await selfTest(createBwrapBackend({ log: silentLogger }), { hostIds: ids });
    expect(r.failures).toEqual([]);
    expect(r.facts['fileowner']).toBe(String(ids?.uid ?? process.getuid?.()));
    expect(r.facts['uid']).toBe('0');
  });

  it('refuses to start as root without an agent uid', async () => {
    const backend = createBwrapBackend({ log: silentLogger, isRoot: true });
    await expect(selfTest(backend, { hostIds: undefined })).rejects.toThrow(/host root without an agent uid/);
  });

  it.skipIf(!isRoot)('passes the self-test for an ordinary user too (run via setpriv as nobody)', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-nobody-'));
    fs.chownSync(home, NOBODY, NOBODY);
    const asNobody = corralAsUser(NOBODY);
    try {
      const [cmd, args] = asNobody.argv(['doctor', '--json']);
      const r = spawnSync(cmd, args, {
        encoding: 'utf8',
        env: { PATH: '/usr/bin:/bin', CORRAL_HOME: home, HOME: home },
        timeout: 60_000,
      });
      const checks = z
        .array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() }))
        .parse(JSON.parse(r.stdout));
      const byName = new Map(checks.map((c) => [c.name, c]));
      expect(byName.get('sandbox bwrap')?.ok).toBe(true);
      expect(byName.get('isolation self-test')).toMatchObject({ ok: true });
      expect(byName.get('isolation self-test')?.detail).toContain(`uid ${NOBODY} outside`);
    } finally {
      asNobody.dispose();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('bwrap probe without bubblewrap', () => {
  it('says how to install it', () => {
    const r = probeBwrap(false, '/nonexistent/bwrap');
    if (r.ok) throw new Error('a missing bwrap must not probe as available');
    expect(r.reason).toContain('not installed');
    expect(r.fix).toContain('apt-get install -y bubblewrap');
  });

  it('explains a bwrap that cannot create namespaces (e.g. user namespaces disabled)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-fakebwrap-'));
    const fake = path.join(dir, 'bwrap');
    // answers --version like bwrap, then fails the way it does when user namespaces are off
    fs.writeFileSync(
      fake,
      '#!/bin/sh\n[ "$1" = --version ] && { echo "bubblewrap 0.8.0"; exit 0; }\necho "bwrap: No permissions to creating new namespace" >&2\nexit 1\n',
      { mode: 0o755 },
    );
    try {
      const r = probeBwrap(false, fake);
      if (r.ok) throw new Error('an unusable bwrap must not probe as available');
      expect(r.reason).toContain('No permissions to creating new namespace');
      expect(r.fix.length).toBeGreaterThan(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
