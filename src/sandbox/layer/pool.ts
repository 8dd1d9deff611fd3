// One mount per agent layer, shared by that agent's sandboxes in this process and unmounted after the last.
import crypto from 'node:crypto';
import path from 'node:path';
import type { HostIds } from '../types.ts';
import { ensureHostDir } from './dirs.ts';
import type { MountedLayer } from './mount.ts';
import { mountLayer } from './mount.ts';
import { reapLayers } from './reap.ts';

export interface LayerLease {
  /** the merged tree to use as the sandbox's root */
  readonly path: string;
  /** Gives the mount back; the last lease unmounts it (and waits for the fuse process to exit). */
  release(): Promise<void>;
}

export interface LayerPool {
  acquire(opts: { imageDir: string; layerDir: string; ids: HostIds }): Promise<LayerLease>;
}

interface Entry {
  refs: number;
  layer: Promise<MountedLayer>;
}

/** Where a layer is mounted: under corral's run directory, where reapLayers finds it after a crash. */
export function layerMountpoint(runDir: string, layerDir: string): string {
  const key = crypto.createHash('sha256').update(path.resolve(layerDir)).digest('hex').slice(0, 16);
  return path.join(runDir, 'layers', key);
}

/**
 * Two sandboxes of one agent (two sessions) share its environment as they share its workspace: a second
 * fuse-overlayfs on the same upper/ would corrupt it. Another corral process holding the layer is refused by
 * mountLayer's lock.
 */
export function createLayerPool(opts: { runDir: string }): LayerPool {
  const entries = new Map<string, Entry>();
  const unmounting = new Map<string, Promise<void>>();
  // before this process mounts anything: what a killed corral left under the run directory (live ones' stay)
  let reaped: Promise<unknown> | undefined;

  async function mount(imageDir: string, layerDir: string, ids: HostIds): Promise<MountedLayer> {
    const mountpoint = layerMountpoint(opts.runDir, layerDir);
    ensureHostDir(opts.runDir, 0o711);
    ensureHostDir(path.dirname(mountpoint), 0o700);
    ensureHostDir(mountpoint, 0o700);
    return mountLayer({ imageDir, layerDir, mountpoint, ids });
  }

  return {
    async acquire({ imageDir, layerDir, ids }) {
      const key = path.resolve(layerDir);
      reaped ??= reapLayers(path.join(opts.runDir, 'layers')).catch(() => undefined);
      await reaped;
      await unmounting.get(key);
      let entry = entries.get(key);
      if (entry === undefined) {
        entry = { refs: 0, layer: mount(imageDir, layerDir, ids) };
        entries.set(key, entry);
        entry.layer.catch(() => entries.delete(key));
      }
      entry.refs += 1;
      const held = entry;
      const layer = await held.layer;
      let released = false;
      return {
        path: layer.path,
        async release() {
          if (released) return;
          released = true;
          held.refs -= 1;
          if (held.refs > 0) return;
          entries.delete(key);
          const done = layer.unmount().finally(() => unmounting.delete(key));
          unmounting.set(key, done);
          await done;
        },
      };
    },
  };
}
