import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testKernelDir } from '../../../test/fixtures/microvm.ts';
import { cpioArchive } from './cpio.ts';
import { ensureInitramfs, isStaticElf } from './initramfs.ts';
import type { GuestKernel } from './kernel.ts';
import { findKernel } from './kernel.ts';
import { GUEST_MODULES, modinfo, moduleLoadOrder } from './modules.ts';

const BUSYBOX = '/bin/busybox';
const hasBusybox = fs.existsSync(BUSYBOX) && isStaticElf(fs.readFileSync(BUSYBOX));
const kernel = findKernel(testKernelDir());
/** The kernel, in tests that skip without one. */
function k(): GuestKernel {
  if (kernel === undefined) throw new Error('no test kernel');
  return kernel;
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-initramfs-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Unpacks an archive with busybox's cpio, an implementation independent of ours. */
function unpack(archive: Buffer, into: string): string[] {
  fs.mkdirSync(into);
  const r = spawnSync(BUSYBOX, ['cpio', '-i', '-d', '-v'], { cwd: into, input: archive, encoding: 'latin1' });
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter((l) => l !== '');
}

describe.skipIf(!hasBusybox)('cpioArchive', () => {
  it('writes a newc archive that cpio unpacks to the same tree', () => {
    const archive = cpioArchive([
      { kind: 'dir', path: 'bin' },
      { kind: 'file', path: 'bin/tool', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
      { kind: 'file', path: 'odd-size', data: Buffer.from('abcde') },
      { kind: 'file', path: 'empty', data: Buffer.alloc(0) },
      { kind: 'symlink', path: 'sh', target: 'bin/tool' },
    ]);
    const dir = path.join(tmp, 'unpacked');
    expect(unpack(archive, dir).sort()).toEqual(['bin', 'bin/tool', 'empty', 'odd-size', 'sh']);
    expect(fs.readFileSync(path.join(dir, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect(fs.statSync(path.join(dir, 'bin/tool')).mode & 0o777).toBe(0o755);
    expect(fs.readFileSync(path.join(dir, 'odd-size'), 'utf8')).toBe('abcde');
    expect(fs.readlinkSync(path.join(dir, 'sh'))).toBe('bin/tool');
  });

  it('is deterministic and refuses paths that climb out', () => {
    const a = cpioArchive([{ kind: 'file', path: 'x', data: Buffer.from('1') }]);
    expect(cpioArchive([{ kind: 'file', path: 'x', data: Buffer.from('1') }]).equals(a)).toBe(true);
    expect(() => cpioArchive([{ kind: 'file', path: '../x', data: Buffer.alloc(0) }])).toThrow(/bad path/);
    expect(() => cpioArchive([{ kind: 'dir', path: '/etc' }])).toThrow(/bad path/);
  });
});

describe('isStaticElf', () => {
  it('tells a static binary from a dynamically linked one', () => {
    if (hasBusybox) expect(isStaticElf(fs.readFileSync(BUSYBOX))).toBe(true);
    expect(isStaticElf(fs.readFileSync(process.execPath))).toBe(false);
    expect(isStaticElf(Buffer.from('#!/bin/sh\n'))).toBe(false);
  });
});

describe.skipIf(kernel === undefined)(`guest kernel modules (${testKernelDir()})`, () => {
  it('loads what the guest needs, each module after the ones it depends on', () => {
    const order = moduleLoadOrder(k().modulesDir).map((m) => m.name);
    for (const m of GUEST_MODULES) expect(order).toContain(m);
    const before = (a: string, b: string): boolean => order.indexOf(a) < order.indexOf(b);
    expect(before('virtio_ring', 'virtio')).toBe(true);
    expect(before('virtio', 'virtio_mmio')).toBe(true);
    expect(before('fuse', 'virtiofs')).toBe(true);
    expect(new Set(order).size).toBe(order.length);
  });

  it("reads a module's dependencies from its .modinfo section", () => {
    const virtiofs = moduleLoadOrder(k().modulesDir).find((m) => m.name === 'virtiofs');
    const info = modinfo(fs.readFileSync(virtiofs?.file ?? ''));
    expect(info.get('depends')?.[0]?.split(',').sort()).toEqual(['fuse', 'virtio', 'virtio_ring']);
    expect(info.get('name')).toEqual(['virtiofs']);
  });

  it('names the module a kernel lacks', () => {
    expect(() => moduleLoadOrder(k().modulesDir, ['no_such_module'])).toThrow(/no module no_such_module/);
  });
});

describe.skipIf(kernel === undefined || !hasBusybox)('ensureInitramfs', () => {
  it('packs the init, busybox, dropcaps, the relay and the modules, and reuses the cached archive', async () => {
    const cache = path.join(tmp, 'cache');
    const file = await ensureInitramfs(k(), cache, BUSYBOX);
    expect(path.basename(file)).toMatch(new RegExp(`^initramfs-${k().version}-[0-9a-f]{16}\\.cpio$`));
    const names = unpack(fs.readFileSync(file), path.join(tmp, 'initramfs'));
    for (const n of [
      'init',
      'stage2',
      'enter',
      'dropcaps',
      'relay.mjs',
      'bin/busybox',
      'lib/modules/load-order',
    ])
      expect(names).toContain(n);
    const order = fs
      .readFileSync(path.join(tmp, 'initramfs/lib/modules/load-order'), 'utf8')
      .trim()
      .split('\n');
    for (const m of order) expect(names).toContain(`lib/modules/${m}.ko`);
    expect(fs.readFileSync(path.join(tmp, 'initramfs/init'), 'utf8')).toMatch(/^#!\/bin\/busybox sh\n/);
    const mtime = fs.statSync(file).mtimeMs;
    expect(await ensureInitramfs(k(), cache, BUSYBOX)).toBe(file);
    expect(fs.statSync(file).mtimeMs).toBe(mtime);
  });

  it('refuses a busybox that is not statically linked', async () => {
    await expect(ensureInitramfs(k(), path.join(tmp, 'cache2'), process.execPath)).rejects.toThrow(
      /not statically linked/,
    );
  });
});
