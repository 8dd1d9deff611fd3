// Re-parses a config file only when it changed (inode, size or mtime), so per-request reads stay cheap while
// an edit — `corral agent set`, a price changed in corral.yaml — still applies to the next request.
import fs from 'node:fs';

export function readWhenChanged<T>(load: (file: string) => T): (file: string) => T {
  const cache = new Map<string, { key: string; value: T }>();
  return (file) => {
    // lstat: the key only; the loader itself refuses symlinks and validates the content. A file that cannot
    // be stat'ed is left to the loader, whose error says what is wrong in the loader's own words.
    const st = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
    // An absent file is a state too (policy.yaml is optional): its loader's answer is remembered until the file
    // appears, instead of running the loader on every request.
    const key = st === undefined ? 'absent' : `${st.ino}:${st.size}:${st.mtimeNs}`;
    const hit = cache.get(file);
    if (hit?.key === key) return hit.value;
    const value = load(file);
    cache.set(file, { key, value });
    return value;
  };
}
