// fuse-overlayfs layers for real: the agent's uid may change the base image's files, the change lands in its
// own upper/ and nowhere else, survives an unmount, and a dead corral's mounts are reaped.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mountLayer } from './mount.ts';
import type { MountedLayer } from './mount.ts';
import { readMounts } from '../../util/mountinfo.ts';
import { isLayerMounted, layerMountsUnder } from './mountinfo.ts';
import { ownerFile } from './owner.ts';
import { reapLayers } from './reap.ts';
import { asAgentRoot, devBaseImage, hasFuseOverlayfs } from './testing.ts';
import { otherMountNamespace } from '../testing/mount-namespace.ts';

const image = devBaseImage();
const isRoot = process.getuid?.() === 0;
const AGENT = { uid: 1_500_000_901, gid: 1_500_000_901 };
const TIMEOUT_MS = 30_000;

describe.skipIf(!hasFuseOverlayfs || image === undefined || !isRoot)('mountLayer as root', () => {
  const imageDir = image ?? '';
  const tmp: string[] = [];
  const mounted: MountedLayer[] = [];
  afterEach(async () => {
    for (const m of mounted.splice(0)) await m.unmount();
    for (const d of tmp.splice(0)) {
      await reapLayers(d);
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  function scratch(): { layerDir: string; mountpoint: string; dir: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-layer-'));
    tmp.push(dir);
    fs.chmodSync(dir, 0o711);
    const mountpoint = path.join(dir, 'root');
    fs.mkdirSync(mountpoint, { mode: 0o700 });
    return { dir, layerDir: path.join(dir, 'layer'), mountpoint };
  }

  async function mount(s: { layerDir: string; mountpoint: string }): Promise<MountedLayer> {
    const m = await mountLayer({ imageDir, ...s, ids: AGENT });
    mounted.push(m);
    return m;
  }

  it(
    'unmount leaves no copy in a mount namespace made while it was mounted (its fuse server could not end)',
    async () => {
      const m = await mountLayer({ imageDir, ...scratch(), ids: AGENT });
      // as an image build's namespace would: a private copy of the mount, which no unmount propagates to
      const other = await otherMountNamespace();
      try {
        expect(other.holds(m.path)).toBe(true);
        await m.unmount();
        expect(other.holds(m.path), 'the copy in the other namespace').toBe(false);
        expect(other.running()).toBe(true);
      } finally {
        await other.end();
      }
    },
    TIMEOUT_MS,
  );

  it(
    "lets the agent's root change base files; the change persists in its own layer only",
    async () => {
      const s = scratch();
      const m = await mount(s);
      const st = fs.statSync(path.join(m.path, 'etc/passwd'));
      expect([st.uid, st.gid]).toEqual([AGENT.uid, AGENT.gid]);
      // files of system users (apt's partial/ is _apt's) are the agent's root's too, or apt could not run
      const partial = fs.statSync(path.join(m.path, 'var/lib/apt/lists/partial'));
      expect(partial.uid).toBe(AGENT.uid);
      const opts = readMounts().find((e) => e.mountPoint === m.path)?.options ?? [];
      expect(opts).toEqual(expect.arrayContaining(['nosuid', 'nodev']));

      const w = asAgentRoot(
        AGENT.uid,
        `echo 'agent:x:1:1::/:/bin/sh' >> ${m.path}/etc/passwd && mkdir -p ${m.path}/usr/local/bin && echo hi > ${m.path}/usr/local/bin/x && rm ${m.path}/etc/issue && touch ${m.path}/var/lib/apt/lists/partial/p && echo ok`,
      );
      expect(w.out).toBe('ok\n');
      // stored as host root in upper/ (uidmapping reverses the agent's uid), reachable by root alone
      const upper = path.join(s.layerDir, 'upper');
      expect(fs.lstatSync(path.join(upper, 'etc/passwd')).uid).toBe(0);
      expect(fs.lstatSync(s.layerDir).mode & 0o777).toBe(0o700);
      expect(fs.readFileSync(path.join(imageDir, 'etc/passwd'), 'utf8')).not.toContain('agent:x');
      expect(fs.existsSync(path.join(imageDir, 'etc/issue'))).toBe(true);

      await m.unmount();
      expect(isLayerMounted(s.mountpoint)).toBe(false);
      expect(fs.existsSync(ownerFile(s.mountpoint))).toBe(false);
      const again = await mount(s);
      expect(fs.readFileSync(path.join(again.path, 'etc/passwd'), 'utf8')).toContain('agent:x');
      expect(fs.readFileSync(path.join(again.path, 'usr/local/bin/x'), 'utf8')).toBe('hi\n');
      expect(fs.existsSync(path.join(again.path, 'etc/issue'))).toBe(false);
      // another layer over the same image sees none of it
      const other = await mount(scratch());
      expect(fs.readFileSync(path.join(other.path, 'etc/passwd'), 'utf8')).not.toContain('agent:x');
      expect(fs.existsSync(path.join(other.path, 'etc/issue'))).toBe(true);
    },
    TIMEOUT_MS,
  );

  it(
    'keeps setuid and device files inert on the host side of the mount',
    async () => {
      const m = await mount(scratch());
      const r = asAgentRoot(
        AGENT.uid,
        `cp /bin/true ${m.path}/usr/local/bin/su2 && chmod 4755 ${m.path}/usr/local/bin/su2 && echo copied; mknod ${m.path}/tmp/null2 c 1 3 2>/dev/null || echo nomknod`,
      );
      expect(r.out).toBe('copied\nnomknod\n');
      // the bit is stored, but the mount is nosuid: running it from the merged tree never gains host root
      expect(fs.statSync(path.join(m.path, 'usr/local/bin/su2')).mode & 0o4000).toBe(0o4000);
      expect(readMounts().find((e) => e.mountPoint === m.path)?.options).toContain('nosuid');
    },
    TIMEOUT_MS,
  );

  it(
    'refuses a layer or mount point that is a link, instead of following it',
    async () => {
      const s = scratch();
      const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-elsewhere-'));
      tmp.push(elsewhere);
      fs.symlinkSync(elsewhere, s.layerDir);
      await expect(mountLayer({ imageDir, ...s, ids: AGENT })).rejects.toThrow(/not a plain directory/);
      const t = scratch();
      fs.rmdirSync(t.mountpoint);
      fs.symlinkSync(elsewhere, t.mountpoint);
      await expect(mountLayer({ imageDir, ...t, ids: AGENT })).rejects.toThrow(/not a plain directory/);
      expect(fs.readdirSync(elsewhere)).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it(
    "reaps mounts whose owner is gone and leaves a live owner's alone",
    async () => {
      const live = scratch();
      const dead = scratch();
      await mount(live);
      await mount(dead);
      // a pid that existed and has exited stands for a killed corral
      fs.writeFileSync(ownerFile(dead.mountpoint), '999999999 1\n');
      const reaped = [...(await reapLayers(live.dir)), ...(await reapLayers(dead.dir))];
      expect(reaped).toEqual([dead.mountpoint]);
      expect(isLayerMounted(dead.mountpoint)).toBe(false);
      expect(layerMountsUnder(live.dir)).toEqual([live.mountpoint]);
    },
    TIMEOUT_MS,
  );
});
