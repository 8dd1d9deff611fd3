// Content hash of source trees, for caches keyed by the code that produced them (runtime bundle, self-test pass).
// Computed once per process per input set: a running host keeps the code it loaded, so its caches should too.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const memo = new Map<string, string>();

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full));
    else if (entry.isFile() && !entry.name.endsWith('.test.ts')) out.push(full);
  }
  return out.sort();
}

/** sha256 (hex, 16 chars) over the relative names and contents of `dirs` (tests excluded) and `files`. */
export function sourceHash(root: string, dirs: string[], files: string[] = []): string {
  const key = [root, ...dirs, '\0', ...files].join('\n');
  const known = memo.get(key);
  if (known !== undefined) return known;
  const h = crypto.createHash('sha256');
  const all = [
    ...dirs.flatMap((d) => listFiles(path.join(root, d))),
    ...files.map((f) => path.join(root, f)),
  ];
  for (const f of all) h.update(path.relative(root, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  const digest = h.digest('hex').slice(0, 16);
  memo.set(key, digest);
  return digest;
}
