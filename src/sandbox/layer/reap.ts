// After a killed corral: unmount every agent layer still mounted under corral's run directory.
import { layerMountsUnder } from './mountinfo.ts';
import { unmountPath } from './mount.ts';
import { ownerAlive, removeOwner } from './owner.ts';

/**
 * Finds fuse-overlayfs mounts at or below `runDir` in this mount namespace whose owning corral process is gone
 * and unmounts them (their fuse processes then exit by themselves); a live corral's mounts (another host on
 * the same home) are left alone. Returns the mount points it unmounted; safe when there are none.
 */
export async function reapLayers(runDir: string): Promise<string[]> {
  const reaped: string[] = [];
  for (const mountpoint of layerMountsUnder(runDir)) {
    if (ownerAlive(mountpoint)) continue;
    await unmountPath(mountpoint);
    removeOwner(mountpoint);
    reaped.push(mountpoint);
  }
  return reaped;
}
