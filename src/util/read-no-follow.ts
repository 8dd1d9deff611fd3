// Reading a small record corral wrote itself (a lock, a state file, a marker) without following a link put in
// its place.
import fs from 'node:fs';

/** The file's text, or undefined when it is missing, unreadable or a symbolic link. */
export function readNoFollow(file: string): string | undefined {
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      return fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}
