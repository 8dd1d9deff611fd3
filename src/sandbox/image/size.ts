// Apparent size of a directory tree without following links; hard links counted once. Unreadable parts are skipped.
import fs from 'node:fs/promises';
import path from 'node:path';

export async function treeSize(root: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        await walk(full);
        continue;
      }
      try {
        const st = await fs.lstat(full);
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          if (seen.has(key)) continue;
          seen.add(key);
        }
        total += st.size;
      } catch {
        // vanished while we looked (the tree is still being written)
      }
    }
  };
  await walk(root);
  return total;
}
