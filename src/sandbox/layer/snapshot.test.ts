// What a snapshot tar may contain before it is extracted: only the layer's upper/ and the workspace; and the
// microvm layer's disk image, copied beside the tar.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkMemberNames,
  createSnapshot,
  restoreSnapshot,
  SNAPSHOT_DISK,
  snapshotDiskFile,
} from './snapshot.ts';

describe('checkMemberNames', () => {
  it('accepts the layer and the workspace', () => {
    expect(() =>
      checkMemberNames(['layer/', 'layer/upper/', 'layer/upper/etc/y', 'workspace/', 'workspace/a b']),
    ).not.toThrow();
  });
  it.each([
    '/etc/passwd',
    'layer/upper/../../x',
    'layer/work/x',
    'other',
    '../workspace/x',
    'workspace/../../x',
  ])('refuses %s', (name) => {
    expect(() => checkMemberNames(['workspace/', name])).toThrow(/outside what a snapshot may hold/);
  });
});

describe('a layer with a disk image (microvm)', () => {
  const MIB = 1024 * 1024;
  const DATA_AT = 40 * MIB;
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-snapdisk-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  /** A 256 MiB sparse disk holding `text` at 40 MiB, as a guest's ext4 keeps a few blocks of a large file. */
  function makeData(text: string): string {
    const data = path.join(root, 'data');
    fs.mkdirSync(path.join(data, 'layer'), { recursive: true });
    fs.mkdirSync(path.join(data, 'workspace'));
    fs.writeFileSync(path.join(data, 'workspace/w'), 'w');
    writeDisk(path.join(data, SNAPSHOT_DISK), text);
    return data;
  }
  function writeDisk(file: string, text: string): void {
    const fd = fs.openSync(file, 'w', 0o600);
    fs.ftruncateSync(fd, 256 * MIB);
    fs.writeSync(fd, text, DATA_AT);
    fs.closeSync(fd);
  }
  const readDisk = (file: string, n: number): string => {
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(n);
    fs.readSync(fd, buf, 0, n, DATA_AT);
    fs.closeSync(fd);
    return buf.toString();
  };

  it('copies the disk beside the tar with its holes, and restores it with the layer', async () => {
    const data = makeData('snapshot');
    const tar = path.join(root, 's1.tar');
    const made = await createSnapshot(data, tar);
    expect(made.disk).toBe(true);
    const copy = fs.statSync(snapshotDiskFile(tar));
    expect(copy.size).toBe(256 * MIB);
    expect(copy.mode & 0o777).toBe(0o600);
    // sparse: the copy holds about the one block written, not 256 MiB
    expect(copy.blocks * 512).toBeLessThan(4 * MIB);
    expect(readDisk(snapshotDiskFile(tar), 8)).toBe('snapshot');

    writeDisk(path.join(data, SNAPSHOT_DISK), 'changed!');
    await restoreSnapshot(data, tar, made.sha256, () => undefined, snapshotDiskFile(tar));
    expect(readDisk(path.join(data, SNAPSHOT_DISK), 8)).toBe('snapshot');
    expect(fs.readFileSync(path.join(data, 'workspace/w'), 'utf8')).toBe('w');
  });

  it('restores no disk when the snapshot had none: the next VM starts from the base image', async () => {
    const data = makeData('x');
    fs.rmSync(path.join(data, SNAPSHOT_DISK));
    const tar = path.join(root, 's0.tar');
    const made = await createSnapshot(data, tar);
    expect(made.disk).toBe(false);
    expect(fs.existsSync(snapshotDiskFile(tar))).toBe(false);
    writeDisk(path.join(data, SNAPSHOT_DISK), 'later');
    await restoreSnapshot(data, tar, made.sha256, () => undefined);
    expect(fs.existsSync(path.join(data, SNAPSHOT_DISK))).toBe(false);
  });

  it('refuses a link where the disk should be', async () => {
    const data = makeData('x');
    const target = path.join(root, 'elsewhere');
    fs.writeFileSync(target, 'host file');
    fs.rmSync(path.join(data, SNAPSHOT_DISK));
    fs.symlinkSync(target, path.join(data, SNAPSHOT_DISK));
    const tar = path.join(root, 'bad.tar');
    await expect(createSnapshot(data, tar)).rejects.toThrow(/not a regular file/);
    expect(fs.existsSync(tar)).toBe(false);
    expect(fs.existsSync(snapshotDiskFile(tar))).toBe(false);
  });
});
