// Frees what a mount namespace made on this host while something was mounted still holds of it.
import fs from 'node:fs';

/**
 * Every mount namespace made while a mount exists (an image build's `unshare --mount`, a microVM's share, any
 * tool's) gets a copy of it, and keeps it, with its device or fuse server, until that namespace ends: a private
 * copy is one no unmount on the host propagates to. Removing the empty mount point detaches the mounts on it in
 * every namespace (Linux >= 3.18); it is made again as it was. Call it after unmounting `dir` here. A no-op when
 * `dir` is not an empty directory (still or again mounted here, or never a mount point).
 */
export function detachCopies(dir: string): void {
  const st = fs.lstatSync(dir, { throwIfNoEntry: false });
  if (st === undefined || !st.isDirectory()) return;
  try {
    fs.rmdirSync(dir);
  } catch (err) {
    if (err instanceof Error && 'code' in err && (err.code === 'ENOTEMPTY' || err.code === 'EBUSY')) return;
    throw err;
  }
  fs.mkdirSync(dir, { mode: st.mode & 0o7777 });
  fs.chownSync(dir, st.uid, st.gid);
  fs.chmodSync(dir, st.mode & 0o7777);
}
