// One mount per agent layer, shared by that agent's sandboxes in this process. After the last sandbox it stays
// mounted for a while (idle), so the agent's next sandbox starts on a warm root instead of a fresh fuse mount.
import crypto from 'node:crypto';
import path from 'node:path';
import type { HostIds } from '../types.ts';
import { ensureHostDir } from './dirs.ts';
import type { MountedLayer } from './mount.ts';
import { FUSE_EXIT_TIMEOUT_MS, mountLayer } from './mount.ts';
import { releaseLayer, withdrawOffer, writeOffer } from './owner.ts';
import { reapLayers } from './reap.ts';

/** How long a layer stays mounted after its last sandbox, unless configured (sandboxes.idleLayerSeconds). */
export const DEFAULT_IDLE_LAYER_MS = 600_000;
/** how long a taker may take to unmount what it took, before this pool unmounts it itself */
const TAKEOVER_WAIT_MS = 2 * FUSE_EXIT_TIMEOUT_MS + 5_000;

export interface LayerLease {
  /** the merged tree to use as the sandbox's root */
  readonly path: string;
  /**
   * Gives the mount back. The last lease keeps it mounted for the pool's idle time (offered to whoever needs the
   * layer meanwhile), or unmounts it at once (idle time 0, or the pool closed) and waits for the fuse process.
   */
  release(): Promise<void>;
}

export interface LayerPool {
  acquire(opts: { imageDir: string; layerDir: string; ids: HostIds }): Promise<LayerLease>;
  /** Unmounts every idle layer now; layers still in use unmount with their last lease. Idempotent. */
  close(): Promise<void>;
  /** Layers mounted now: with a sandbox on them, and kept idle for the next one. */
  stats(): LayerStats;
}

export interface LayerStats {
  inUse: number;
  idle: number;
}

interface Entry {
  refs: number;
  /** what it was mounted with: a rebuilt base image or other ids need a mount of their own */
  recipe: string;
  layer: Promise<MountedLayer>;
  /** set while no sandbox uses the mount: the timer that unmounts it */
  idle: NodeJS.Timeout | undefined;
}

/** Where a layer is mounted: under corral's run directory, where reapLayers finds it after a crash. */
export function layerMountpoint(runDir: string, layerDir: string): string {
  const key = crypto.createHash('sha256').update(path.resolve(layerDir)).digest('hex').slice(0, 16);
  return path.join(runDir, 'layers', key);
}

/**
 * Two sandboxes of one agent (two sessions) share its environment as they share its workspace: a second
 * fuse-overlayfs on the same upper/ would corrupt it. Another corral process holding the layer is refused by
 * mountLayer's lock, unless the layer is idle here: then it takes the mount over (see takeIdleLayer), and this
 * pool forgets it once its fuse process has exited.
 */
export function createLayerPool(opts: { runDir: string; idleMs?: number }): LayerPool {
  const idleMs = opts.idleMs ?? 0;
  const entries = new Map<string, Entry>();
  const unmounting = new Map<string, Promise<void>>();
  // before this process mounts anything: what a killed corral left under the run directory (live ones' stay)
  let reaped: Promise<unknown> | undefined;
  let closed = false;

  async function mount(imageDir: string, layerDir: string, ids: HostIds): Promise<MountedLayer> {
    const mountpoint = layerMountpoint(opts.runDir, layerDir);
    ensureHostDir(opts.runDir, 0o711);
    ensureHostDir(path.dirname(mountpoint), 0o700);
    ensureHostDir(mountpoint, 0o700);
    return mountLayer({ imageDir, layerDir, mountpoint, ids });
  }

  function unmount(key: string, layer: MountedLayer): Promise<void> {
    const done = layer.unmount().finally(() => unmounting.delete(key));
    unmounting.set(key, done);
    return done;
  }

  /**
   * Ends an idle entry: unmounts it when its offer is still ours to withdraw; otherwise someone took it over and
   * unmounts it themselves, and this waits for the fuse process to go.
   */
  async function retire(key: string, entry: Entry, layer: MountedLayer): Promise<void> {
    clearTimeout(entry.idle);
    entry.idle = undefined;
    if (entries.get(key) === entry) entries.delete(key);
    if (withdrawOffer(key)) await unmount(key, layer);
    else await gone(key, layer);
  }

  /** retire(), unless an acquire took the entry back while its mount was awaited. */
  async function retireIfIdle(key: string, entry: Entry): Promise<void> {
    const layer = await entry.layer;
    if (entries.get(key) === entry && entry.idle !== undefined) await retire(key, entry, layer);
  }

  /**
   * Waits for whoever took the mount over to unmount it (other acquires of the layer wait too). Should the taker
   * die half-way, the mount is unmounted here after a while instead of being waited for forever.
   */
  function gone(key: string, layer: MountedLayer): Promise<void> {
    const wait = (async () => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), TAKEOVER_WAIT_MS)));
      const how = await Promise.race([layer.exited, late]);
      clearTimeout(timer);
      if (how === 'late') await layer.unmount();
    })().finally(() => unmounting.delete(key));
    unmounting.set(key, wait);
    return wait;
  }

  /** Keeps the mount for the agent's next sandbox; false when it cannot be offered (then unmount it). */
  function goIdle(key: string, entry: Entry, layer: MountedLayer): boolean {
    try {
      writeOffer(key, layer.path, layer.fusePid);
    } catch {
      return false;
    }
    entry.idle = setTimeout(() => void retire(key, entry, layer).catch(() => undefined), idleMs);
    entry.idle.unref();
    return true;
  }

  function watch(key: string, entry: Entry, layer: MountedLayer): void {
    // the mount went while idle: taken over by another process (which cleans up after it), or its fuse server
    // died (then the layer is still ours to let go of)
    void layer.exited.then(() => {
      if (entries.get(key) !== entry || entry.idle === undefined) return;
      entries.delete(key);
      clearTimeout(entry.idle);
      entry.idle = undefined;
      // a dead fuse server's mount is still in the table ("transport endpoint is not connected")
      if (withdrawOffer(key)) void unmount(key, layer).catch(() => releaseLayer(key, layer.path));
    });
  }

  return {
    async acquire({ imageDir, layerDir, ids }) {
      const key = path.resolve(layerDir);
      reaped ??= reapLayers(path.join(opts.runDir, 'layers')).catch(() => undefined);
      await reaped;
      const recipe = JSON.stringify([path.resolve(imageDir), ids.uid, ids.gid]);
      let entry: Entry | undefined;
      // every await may let another acquire or a takeover in: look again after each
      for (;;) {
        await unmounting.get(key);
        entry = entries.get(key);
        if (entry === undefined || entry.idle === undefined) break;
        if (entry.recipe !== recipe) {
          // mounted over an older base image (or for other ids): a fresh mount for this sandbox
          await retireIfIdle(key, entry);
          continue;
        }
        clearTimeout(entry.idle);
        entry.idle = undefined;
        if (withdrawOffer(key)) break;
        // taken over meanwhile (an `agent reset`, a snapshot, another corral): mount afresh once it is gone
        entries.delete(key);
        await gone(key, await entry.layer);
      }
      if (entry === undefined) {
        const fresh: Entry = { refs: 0, recipe, layer: mount(imageDir, layerDir, ids), idle: undefined };
        entries.set(key, fresh);
        fresh.layer.then(
          (l) => watch(key, fresh, l),
          () => entries.delete(key),
        );
        entry = fresh;
      }
      entry.refs += 1;
      const held = entry;
      let layer: MountedLayer;
      try {
        layer = await held.layer;
      } catch (err) {
        held.refs -= 1;
        throw err;
      }
      let released = false;
      return {
        path: layer.path,
        async release() {
          if (released) return;
          released = true;
          held.refs -= 1;
          if (held.refs > 0) return;
          if (idleMs > 0 && !closed && entries.get(key) === held && goIdle(key, held, layer)) return;
          if (entries.get(key) === held) entries.delete(key);
          await unmount(key, layer);
        },
      };
    },
    stats() {
      let idle = 0;
      for (const e of entries.values()) if (e.idle !== undefined) idle += 1;
      return { inUse: entries.size - idle, idle };
    },
    async close() {
      closed = true;
      const idle: Promise<void>[] = [];
      for (const [key, entry] of entries) if (entry.idle !== undefined) idle.push(retireIfIdle(key, entry));
      await Promise.allSettled(idle);
      await Promise.allSettled(unmounting.values());
    },
  };
}
