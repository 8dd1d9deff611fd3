// The guest kernel's modules the initramfs loads: found in its /lib/modules tree, with their dependencies
// read from each module's own .modinfo section (the package ships no modules.dep; depmod runs at install).
import fs from 'node:fs';
import path from 'node:path';
import { CorralError } from '../../util/errors.ts';

/** What the guest needs: the virtio-mmio bus, disks, serial ports, the shared workspace and the overlay root. */
export const GUEST_MODULES = ['virtio_mmio', 'virtio_blk', 'virtio_console', 'virtiofs', 'overlay'];

const norm = (name: string): string => name.replaceAll('-', '_');

/** The NUL-separated key=value strings of an ELF64 module's `.modinfo` section. */
export function modinfo(ko: Buffer): Map<string, string[]> {
  const ELF_MAGIC = 0x464c457f;
  if (ko.length < 64 || ko.readUInt32LE(0) !== ELF_MAGIC || ko[4] !== 2 || ko[5] !== 1) {
    throw new Error('not a little-endian ELF64 file (compressed modules are not supported)');
  }
  const shoff = Number(ko.readBigUInt64LE(0x28));
  const shentsize = ko.readUInt16LE(0x3a);
  const shnum = ko.readUInt16LE(0x3c);
  const shstrndx = ko.readUInt16LE(0x3e);
  const section = (i: number): { name: number; offset: number; size: number } => {
    const at = shoff + i * shentsize;
    return {
      name: ko.readUInt32LE(at),
      offset: Number(ko.readBigUInt64LE(at + 0x18)),
      size: Number(ko.readBigUInt64LE(at + 0x20)),
    };
  };
  const names = section(shstrndx);
  const nameOf = (off: number): string => {
    const start = names.offset + off;
    return ko.toString('latin1', start, ko.indexOf(0, start));
  };
  const info = new Map<string, string[]>();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (nameOf(s.name) !== '.modinfo') continue;
    for (const kv of ko.toString('latin1', s.offset, s.offset + s.size).split('\0')) {
      const eq = kv.indexOf('=');
      if (eq <= 0) continue;
      const key = kv.slice(0, eq);
      info.set(key, [...(info.get(key) ?? []), kv.slice(eq + 1)]);
    }
  }
  return info;
}

function indexModules(dir: string, into: Map<string, string>): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) indexModules(p, into);
    else if (e.isFile() && e.name.endsWith('.ko')) into.set(norm(e.name.slice(0, -3)), p);
  }
}

function builtins(modulesDir: string): Set<string> {
  let text = '';
  try {
    text = fs.readFileSync(path.join(modulesDir, 'modules.builtin'), 'utf8');
  } catch {
    // no list: treat nothing as built in; a module asked for that is not there is reported below
  }
  return new Set(
    text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => norm(path.basename(l, '.ko'))),
  );
}

export interface ModuleFile {
  name: string;
  file: string;
}

/** `wanted` and their dependencies, each after what it needs; modules built into the kernel are left out. */
export function moduleLoadOrder(modulesDir: string, wanted: string[] = GUEST_MODULES): ModuleFile[] {
  const files = new Map<string, string>();
  indexModules(path.join(modulesDir, 'kernel'), files);
  const builtin = builtins(modulesDir);
  const order: ModuleFile[] = [];
  const seen = new Set<string>();
  const visit = (raw: string, chain: string[]): void => {
    const name = norm(raw);
    if (seen.has(name) || builtin.has(name)) return;
    if (chain.includes(name)) throw new Error(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const file = files.get(name);
    if (file === undefined) {
      throw new CorralError(
        'microvm_kernel',
        `the guest kernel has no module ${name} (needed by the microVM) in ${modulesDir}`,
        'use a kernel with virtio-mmio, virtio-blk, virtio-console, virtiofs and overlayfs (Debian: linux-image-cloud-amd64)',
      );
    }
    const deps = (modinfo(fs.readFileSync(file)).get('depends') ?? []).flatMap((d) => d.split(','));
    for (const d of deps) if (d !== '') visit(d, [...chain, name]);
    seen.add(name);
    order.push({ name, file });
  };
  for (const w of wanted) visit(w, []);
  return order;
}
