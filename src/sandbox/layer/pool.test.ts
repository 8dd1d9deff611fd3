// The layer pool for real (fuse-overlayfs over the dev image): an agent's layer stays mounted between its
// sandboxes, goes after its idle time or at close, and gives way to whoever needs the layer meanwhile (`agent
// reset` from another process), while a layer with a sandbox on it is never taken.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isLayerMounted } from './mountinfo.ts';
import { lockFile, offerFile } from './owner.ts';
import type { LayerPool } from './pool.ts';
import { createLayerPool, layerMountpoint } from './pool.ts';
import { reapLayers } from './reap.ts';
import { devBaseImage, hasFuseOverlayfs } from './testing.ts';

const image = devBaseImage();
const isRoot = process.getuid?.() === 0;
const AGENT = { uid: 1_500_000_911, gid: 1_500_000_911 };
const TIMEOUT_MS = 60_000;
const RESET = new URL('./reset.ts', import.meta.url).pathname;

/** `agent reset` as another corral process would run it: dropLayer in a process of its own. */
function resetElsewhere(layerDir: string): Promise<{ code: number | null; out: string }> {
  const code = `const { dropLayer } = await import(${JSON.stringify(RESET)}); await dropLayer(${JSON.stringify(layerDir)});`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (c) => resolve({ code: c, out }));
  });
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The fuse-overlayfs process serving a mount point: the same process is the same mount. */
function fuseServerOf(mountpoint: string): number | undefined {
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let argv: string[];
    try {
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (path.basename(argv[0] ?? '') === 'fuse-overlayfs' && argv.includes(mountpoint)) return Number(pid);
  }
  return undefined;
}

describe.skipIf(!hasFuseOverlayfs || image === undefined || !isRoot)('layer pool', () => {
  const imageDir = image ?? '';
  const dirs: string[] = [];
  const pools: LayerPool[] = [];
  afterEach(async () => {
    for (const p of pools.splice(0)) await p.close();
    for (const d of dirs.splice(0)) {
      await reapLayers(d);
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  function setup(idleMs: number): { pool: LayerPool; layerDir: string; mountpoint: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-pool-'));
    dirs.push(dir);
    const runDir = path.join(dir, 'run');
    const layerDir = path.join(dir, 'layer');
    const pool = createLayerPool({ runDir, idleMs });
    pools.push(pool);
    return { pool, layerDir, mountpoint: layerMountpoint(runDir, layerDir) };
  }

  it(
    'keeps the layer mounted after the last sandbox for the next one, and unmounts it at close',
    async () => {
      const { pool, layerDir, mountpoint } = setup(60_000);
      const first = await pool.acquire({ imageDir, layerDir, ids: AGENT });
      fs.writeFileSync(path.join(first.path, 'root-note'), 'kept');
      const server = fuseServerOf(first.path);
      expect(server).toBeGreaterThan(0);
      expect(pool.stats()).toEqual({ inUse: 1, idle: 0 });
      await first.release();
      expect(isLayerMounted(mountpoint)).toBe(true);
      expect(fs.existsSync(offerFile(layerDir)), 'offered while idle').toBe(true);
      expect(pool.stats()).toEqual({ inUse: 0, idle: 1 });

      const second = await pool.acquire({ imageDir, layerDir, ids: AGENT });
      expect(fuseServerOf(second.path), 'the same mount, not a new one').toBe(server);
      expect(fs.existsSync(offerFile(layerDir)), 'withdrawn while in use').toBe(false);
      expect(fs.readFileSync(path.join(second.path, 'root-note'), 'utf8')).toBe('kept');
      await second.release();

      await pool.close();
      expect(pool.stats()).toEqual({ inUse: 0, idle: 0 });
      expect(isLayerMounted(mountpoint)).toBe(false);
      expect(fs.existsSync(lockFile(layerDir))).toBe(false);
      expect(fs.existsSync(offerFile(layerDir))).toBe(false);
      expect(fs.readFileSync(path.join(layerDir, 'upper/root-note'), 'utf8')).toBe('kept');
    },
    TIMEOUT_MS,
  );

  it(
    'unmounts an idle layer once its idle time has passed; idle time 0 unmounts at once',
    async () => {
      const lingering = setup(300);
      const a = await lingering.pool.acquire({ imageDir, layerDir: lingering.layerDir, ids: AGENT });
      await a.release();
      expect(isLayerMounted(lingering.mountpoint)).toBe(true);
      await until('the idle layer to be unmounted', () => !isLayerMounted(lingering.mountpoint));
      await until('its lock to go', () => !fs.existsSync(lockFile(lingering.layerDir)));

      const at = setup(0);
      const b = await at.pool.acquire({ imageDir, layerDir: at.layerDir, ids: AGENT });
      await b.release();
      expect(isLayerMounted(at.mountpoint)).toBe(false);
      expect(fs.existsSync(offerFile(at.layerDir))).toBe(false);
    },
    TIMEOUT_MS,
  );

  it(
    'gives an idle layer over to `agent reset` in another process; the next sandbox mounts the new one',
    async () => {
      const { pool, layerDir, mountpoint } = setup(60_000);
      const first = await pool.acquire({ imageDir, layerDir, ids: AGENT });
      fs.writeFileSync(path.join(first.path, 'root-note'), 'old');
      await first.release();

      const r = await resetElsewhere(layerDir);
      expect(r.out).toBe('');
      expect(r.code).toBe(0);
      expect(isLayerMounted(mountpoint)).toBe(false);
      expect(fs.existsSync(layerDir), 'the layer was dropped').toBe(false);

      const next = await pool.acquire({ imageDir, layerDir, ids: AGENT });
      expect(fs.existsSync(path.join(next.path, 'root-note'))).toBe(false);
      expect(fs.existsSync(path.join(next.path, 'etc/passwd'))).toBe(true);
      await next.release();
    },
    TIMEOUT_MS,
  );

  it(
    'never takes a layer a sandbox is using: the reset is refused and the mount stays',
    async () => {
      const { pool, layerDir, mountpoint } = setup(60_000);
      const lease = await pool.acquire({ imageDir, layerDir, ids: AGENT });
      const server = fuseServerOf(lease.path);
      expect(server).toBeGreaterThan(0);
      const r = await resetElsewhere(layerDir);
      expect(r.code).not.toBe(0);
      expect(r.out).toContain('a sandbox is running on this environment');
      expect(fuseServerOf(mountpoint)).toBe(server);
      expect(fs.existsSync(path.join(lease.path, 'etc/passwd'))).toBe(true);
      await lease.release();
    },
    TIMEOUT_MS,
  );

  it(
    'mounts afresh for other ids (or a rebuilt base image) instead of reusing the idle mount',
    async () => {
      const { pool, layerDir, mountpoint } = setup(60_000);
      const first = await pool.acquire({ imageDir, layerDir, ids: AGENT });
      const server = fuseServerOf(first.path);
      expect(server).toBeGreaterThan(0);
      await first.release();
      const other = { uid: AGENT.uid + 1, gid: AGENT.gid + 1 };
      const second = await pool.acquire({ imageDir, layerDir, ids: other });
      expect(fuseServerOf(second.path)).toBeGreaterThan(0);
      expect(fuseServerOf(second.path)).not.toBe(server);
      expect(fs.statSync(path.join(second.path, 'etc/passwd')).uid).toBe(other.uid);
      expect(isLayerMounted(mountpoint)).toBe(true);
      await second.release();
    },
    TIMEOUT_MS,
  );

  it('an idle mount taken back by one sandbox is never retired under it by another asking for other ids', async () => {
    const { pool, layerDir, mountpoint } = setup(60_000);
    const first = await pool.acquire({ imageDir, layerDir, ids: AGENT });
    const server = fuseServerOf(first.path);
    expect(server).toBeGreaterThan(0);
    await first.release();
    const other = { uid: AGENT.uid + 2, gid: AGENT.gid + 2 };
    // both at once: the one with other ids would retire the idle mount, the other takes it back first
    const [a, b] = await Promise.all([
      pool.acquire({ imageDir, layerDir, ids: other }),
      pool.acquire({ imageDir, layerDir, ids: AGENT }),
    ]);
    expect(fuseServerOf(mountpoint)).toBe(server);
    expect(fs.existsSync(path.join(b.path, 'etc/passwd'))).toBe(true);
    expect(pool.stats()).toEqual({ inUse: 1, idle: 0 });
    await a.release();
    expect(fuseServerOf(mountpoint), 'still mounted for the other lease').toBe(server);
    await b.release();
  }, 10_000);
});
