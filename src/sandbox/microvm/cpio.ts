// A cpio archive in the "newc" format the Linux kernel unpacks as its initramfs. Deterministic: fixed inode
// numbers, owner root, mtime 0, so the same contents give the same bytes (and the same cache key).

export type CpioEntry =
  | { kind: 'dir'; path: string; mode?: number }
  | { kind: 'file'; path: string; data: Buffer; mode?: number }
  | { kind: 'symlink'; path: string; target: string };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const TRAILER = 'TRAILER!!!';

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');
const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);

function header(ino: number, mode: number, nlink: number, size: number, nameSize: number): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  return ['070701', hex8(ino), hex8(mode), hex8(0), hex8(0), hex8(nlink), hex8(0), hex8(size)]
    .concat([hex8(0), hex8(0), hex8(0), hex8(0), hex8(nameSize), hex8(0)])
    .join('');
}

function record(ino: number, name: string, mode: number, nlink: number, data: Buffer): Buffer[] {
  const nameBuf = Buffer.from(`${name}\0`);
  const head = Buffer.from(header(ino, mode, nlink, data.length, nameBuf.length), 'latin1');
  return [head, nameBuf, pad4(head.length + nameBuf.length), data, pad4(data.length)];
}

/** Paths are relative to the archive root, without a leading slash; parents must come before children. */
export function cpioArchive(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((e, i) => {
    if (e.path.startsWith('/') || e.path.split('/').includes('..')) {
      throw new Error(`cpio: bad path ${e.path}`);
    }
    const ino = i + 1;
    switch (e.kind) {
      case 'dir':
        parts.push(...record(ino, e.path, S_IFDIR | (e.mode ?? 0o755), 2, Buffer.alloc(0)));
        break;
      case 'file':
        parts.push(...record(ino, e.path, S_IFREG | (e.mode ?? 0o644), 1, e.data));
        break;
      case 'symlink':
        parts.push(...record(ino, e.path, S_IFLNK | 0o777, 1, Buffer.from(e.target)));
        break;
    }
  });
  parts.push(...record(0, TRAILER, 0, 1, Buffer.alloc(0)));
  return Buffer.concat(parts);
}
