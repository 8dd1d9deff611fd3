// Agent data directories: a real loop-mounted ext4 volume per agent as root, plain directories otherwise.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveHome } from '../config/home.ts';
import type { HomePaths } from '../config/home.ts';
import { MIB } from '../sandbox/types.ts';
import { silentLogger } from '../util/log.ts';
import {
  diskQuotaSupport,
  prepareAgentVolume,
  removeAgentVolume,
  unmountAgentVolume,
} from './agent-volume.ts';
import { mountsAt, parseMountinfo } from '../util/mountinfo.ts';
import { attachedLoops, otherMountNamespace } from '../sandbox/testing/mount-namespace.ts';

const isRoot = process.getuid?.() === 0;
const quota = diskQuotaSupport(isRoot);
const IDS = { uid: 1_500_000_990, gid: 1_500_000_990 };

/** Polls `ok` for up to UNTIL_MS (a detached mount frees its device a moment after the unmount returns). */
const UNTIL_MS = 5_000;
async function until(ok: () => boolean): Promise<void> {
  for (let waited = 0; !ok() && waited < UNTIL_MS; waited += 50) await new Promise((r) => setTimeout(r, 50));
}

const homes: HomePaths[] = [];
function newHome(): HomePaths {
  const home = resolveHome({ CORRAL_HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'corral-vol-')) });
  homes.push(home);
  return home;
}
afterEach(async () => {
  for (const h of homes.splice(0)) {
    for (const a of fs.existsSync(h.dataDir) ? fs.readdirSync(h.dataDir) : [])
      if (!a.includes('.')) await removeAgentVolume(h, a);
    fs.rmSync(h.root, { recursive: true, force: true });
  }
});

describe('mountinfo', () => {
  it('reads mount points, escapes included', () => {
    const line = '36 35 7:3 / /tmp/a\\040b rw,noatime shared:1 - ext4 /dev/loop3 rw';
    expect(parseMountinfo(line)).toEqual([
      {
        root: '/',
        mountPoint: '/tmp/a b',
        options: ['rw', 'noatime'],
        fsType: 'ext4',
        source: '/dev/loop3',
        superOptions: ['rw'],
      },
    ]);
  });
});

describe('agent data directory without a volume', () => {
  it('holds the workspace and the layer, and says only files are limited', async () => {
    const home = newHome();
    const v = await prepareAgentVolume(home, 'a', 64 * MIB, {
      ids: undefined,
      isRoot: false,
      log: silentLogger,
    });
    expect(v.workspaceDir).toBe(path.join(fs.realpathSync(home.dataDir), 'a', 'workspace'));
    expect(fs.statSync(v.layerDir).isDirectory()).toBe(true);
    expect(v.disk.mechanism).toBe('rlimit');
    expect(mountsAt(v.dir)).toEqual([]);
  });

  it('adopts a workspace from the old layout', async () => {
    const home = newHome();
    fs.mkdirSync(path.join(home.workspacesDir, 'old'), { recursive: true });
    fs.writeFileSync(path.join(home.workspacesDir, 'old', 'MEMORY.md'), 'kept\n');
    const v = await prepareAgentVolume(home, 'old', 64 * MIB, {
      ids: undefined,
      isRoot: false,
      log: silentLogger,
    });
    expect(fs.readFileSync(path.join(v.workspaceDir, 'MEMORY.md'), 'utf8')).toBe('kept\n');
  });
});

describe.skipIf(quota.mechanism !== 'quota')(
  `agent volume (${quota.mechanism === 'quota' ? 'root' : 'skipped: ' + quota.reason})`,
  () => {
    const opts = { ids: IDS, isRoot: true, log: silentLogger };

    it('is a file system of the limit: writing past it fails with ENOSPC', async () => {
      const home = newHome();
      const v = await prepareAgentVolume(home, 'q', 64 * MIB, opts);
      expect(v.disk.mechanism).toBe('quota');
      expect(mountsAt(v.dir).map((m) => m.fsType)).toEqual(['ext4']);
      expect(fs.statSync(v.workspaceDir).uid).toBe(IDS.uid);
      expect((fs.statSync(v.dir).mode & 0o777).toString(8)).toBe('700');
      const r = spawnSync('dd', ['if=/dev/zero', `of=${v.workspaceDir}/fill`, 'bs=1M', 'count=100'], {
        encoding: 'utf8',
      });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain('No space left on device');
      expect(fs.statSync(path.join(v.workspaceDir, 'fill')).size).toBeLessThanOrEqual(64 * MIB);
    });

    it('keeps its data across an unmount (a host restart) and grows with the limit', async () => {
      const home = newHome();
      const v = await prepareAgentVolume(home, 'g', 64 * MIB, opts);
      fs.writeFileSync(path.join(v.workspaceDir, 'note'), 'kept\n');
      const before = fs.statfsSync(v.dir);
      await unmountAgentVolume(home, 'g');
      expect(mountsAt(v.dir)).toEqual([]);
      const again = await prepareAgentVolume(home, 'g', 128 * MIB, opts);
      expect(fs.readFileSync(path.join(again.workspaceDir, 'note'), 'utf8')).toBe('kept\n');
      const after = fs.statfsSync(v.dir);
      expect(after.blocks * after.bsize).toBeGreaterThan(before.blocks * before.bsize + 50 * MIB);
      expect(mountsAt(v.dir)).toHaveLength(1); // mounted once, not stacked
    });

    it('refuses a data directory that holds files but no volume', async () => {
      const home = newHome();
      fs.mkdirSync(path.join(home.dataDir, 'x'), { recursive: true });
      fs.writeFileSync(path.join(home.dataDir, 'x', 'stray'), '');
      await expect(prepareAgentVolume(home, 'x', 64 * MIB, opts)).rejects.toThrow(
        /holds files but has no volume/,
      );
    });

    it('refuses an image that is a link', async () => {
      const home = newHome();
      fs.mkdirSync(home.dataDir, { recursive: true });
      fs.symlinkSync('/etc/passwd', path.join(home.dataDir, 'l.ext4'));
      await expect(prepareAgentVolume(home, 'l', 64 * MIB, opts)).rejects.toThrow(/not a plain file/);
    });

    it('unmount frees the loop device while a mount namespace made meanwhile still runs', async () => {
      const home = newHome();
      const v = await prepareAgentVolume(home, 'n', 64 * MIB, opts);
      const image = path.join(fs.realpathSync(home.dataDir), 'n.ext4');
      // its private copy of the mount is one no unmount propagates to
      const other = await otherMountNamespace();
      try {
        expect(other.holds(v.dir)).toBe(true);
        await unmountAgentVolume(home, 'n');
        expect(mountsAt(v.dir)).toEqual([]);
        await until(() => attachedLoops(image).length === 0);
        expect(attachedLoops(image), 'loop devices still attached').toEqual([]);
        expect(other.running(), 'the other namespace still runs').toBe(true);
        expect(other.holds(v.dir)).toBe(false);
        expect((fs.statSync(v.dir).mode & 0o777).toString(8)).toBe('700');
        const again = await prepareAgentVolume(home, 'n', 64 * MIB, opts);
        expect(mountsAt(again.dir).map((m) => m.fsType)).toEqual(['ext4']);
      } finally {
        await other.end();
      }
    });

    it('remove leaves no mount and no loop device behind', async () => {
      const home = newHome();
      const v = await prepareAgentVolume(home, 'r', 64 * MIB, opts);
      const image = path.join(fs.realpathSync(home.dataDir), 'r.ext4');
      await removeAgentVolume(home, 'r');
      expect(mountsAt(v.dir)).toEqual([]);
      expect(fs.existsSync(image)).toBe(false);
      expect(spawnSync('losetup', ['-j', image], { encoding: 'utf8' }).stdout).toBe('');
    });
  },
);
