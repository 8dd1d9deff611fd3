// Host-side directories of a layer: created one level at a time and checked with lstat, so a link planted
// where a directory should be is refused instead of followed.
import fs from 'node:fs';
import { CorralError } from '../../util/errors.ts';

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code;
}

/**
 * Makes `dir` (its parent must exist) a plain directory owned by this process with exactly `mode`. An existing
 * entry that is a link, not a directory, or owned by someone else is refused: never followed, never reused.
 */
export function ensureHostDir(dir: string, mode: number): void {
  try {
    fs.mkdirSync(dir, { mode });
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
  }
  const st = fs.lstatSync(dir);
  const uid = process.getuid?.() ?? st.uid;
  if (st.isSymbolicLink() || !st.isDirectory() || st.uid !== uid) {
    throw new CorralError(
      'unsafe_path',
      `${dir} is not a plain directory owned by uid ${uid}; refusing to use it`,
      `move it away and retry: mv ${dir} ${dir}.suspect`,
    );
  }
  // mkdir's mode is masked by the umask; chmod on a checked directory (chmod never acts on a link itself)
  if ((st.mode & 0o7777) !== mode) fs.chmodSync(dir, mode);
}

/** True when `p` exists as anything at all (a dangling link counts), without following it. */
export function entryExists(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}
