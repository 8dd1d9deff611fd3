// Offers of idle layers: taken by exactly one side, and never when they do not match a live holder's lock.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimLayer, lockFile, offerFile, takeOffer, withdrawOffer, writeOffer } from './owner.ts';

describe('idle layer offers', () => {
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  /** A layer directory this process holds, and a live process standing for its fuse server. */
  function held(): { layerDir: string; mountpoint: string; fusePid: number } {
    const layerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-offer-'));
    dirs.push(layerDir);
    const mountpoint = path.join(layerDir, '..', `${path.basename(layerDir)}-mnt`);
    claimLayer(layerDir, mountpoint);
    const fuse = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(fuse);
    return { layerDir, mountpoint, fusePid: fuse.pid ?? 0 };
  }

  it("is taken once, with the holder's mount and fuse server; the holder can then not withdraw it", () => {
    const h = held();
    writeOffer(h.layerDir, h.mountpoint, h.fusePid);
    const got = takeOffer(h.layerDir);
    expect(got?.mountpoint).toBe(h.mountpoint);
    expect(got?.fuse.pid).toBe(h.fusePid);
    expect(got?.holder.pid).toBe(process.pid);
    expect(takeOffer(h.layerDir), 'a second taker').toBeUndefined();
    expect(withdrawOffer(h.layerDir)).toBe(false);
  });

  it('is withdrawn once by the holder; nobody can take it after', () => {
    const h = held();
    writeOffer(h.layerDir, h.mountpoint, h.fusePid);
    expect(withdrawOffer(h.layerDir)).toBe(true);
    expect(takeOffer(h.layerDir)).toBeUndefined();
    expect(withdrawOffer(h.layerDir)).toBe(false);
  });

  it("is never taken when it does not match the holder's lock, or its fuse server is gone", () => {
    const h = held();
    // an offer naming another mount point than the lock: not this holder's mount
    writeOffer(h.layerDir, `${h.mountpoint}-other`, h.fusePid);
    expect(takeOffer(h.layerDir)).toBeUndefined();
    expect(fs.existsSync(offerFile(h.layerDir)), 'left as it was').toBe(true);

    writeOffer(h.layerDir, h.mountpoint, h.fusePid);
    const [fuse] = children;
    fuse?.kill('SIGKILL');
    return new Promise<void>((resolve) => fuse?.once('exit', () => resolve())).then(() => {
      expect(takeOffer(h.layerDir)).toBeUndefined();
    });
  });

  it("is never taken from a dead holder, and the next holder's claim removes it", () => {
    const h = held();
    writeOffer(h.layerDir, h.mountpoint, h.fusePid);
    // the lock now names a process that has exited: a killed corral
    fs.writeFileSync(lockFile(h.layerDir), `999999999 1\n${h.mountpoint}\n`);
    expect(takeOffer(h.layerDir)).toBeUndefined();
    claimLayer(h.layerDir, h.mountpoint);
    expect(fs.existsSync(offerFile(h.layerDir))).toBe(false);
  });
});
