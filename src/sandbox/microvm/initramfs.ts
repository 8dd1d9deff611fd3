// The guest's initramfs, built by corral itself: a static busybox, the init stages, the capability drop, the
// gateway relay and the few kernel modules the guest needs. Cached by kernel version and a hash of what goes in.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { CorralError } from '../../util/errors.ts';
import { sourceHash } from '../../util/source-hash.ts';
import type { CpioEntry } from './cpio.ts';
import { cpioArchive } from './cpio.ts';
import { dropcapsElf } from './dropcaps.ts';
import { ENTER, STAGE1, STAGE2 } from './init-script.ts';
import type { GuestKernel } from './kernel.ts';
import { moduleLoadOrder } from './modules.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = 'src/sandbox/microvm';
export const DEFAULT_BUSYBOX = '/bin/busybox';

/** True when `elf` is an executable with no program interpreter, i.e. it runs without a libc beside it. */
export function isStaticElf(elf: Buffer): boolean {
  const PT_INTERP = 3;
  if (elf.length < 64 || elf.readUInt32LE(0) !== 0x464c457f || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (elf.readUInt32LE(phoff + i * phentsize) === PT_INTERP) return false;
  }
  return true;
}

async function relayBundle(): Promise<Buffer> {
  const out = await build({
    entryPoints: [path.join(REPO_ROOT, HERE, 'guest/relay.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    write: false,
  });
  const file = out.outputFiles[0];
  if (file === undefined) throw new Error('esbuild produced no relay bundle');
  return Buffer.from(file.contents);
}

function readBusybox(busybox: string): Buffer {
  let bin: Buffer;
  try {
    bin = fs.readFileSync(busybox);
  } catch {
    throw new CorralError(
      'microvm_busybox',
      `no static busybox at ${busybox} (the microVM's init runs on it)`,
      'apt-get install -y busybox-static',
    );
  }
  if (!isStaticElf(bin)) {
    throw new CorralError(
      'microvm_busybox',
      `${busybox} is not statically linked, so it cannot run in the initramfs`,
      'apt-get install -y busybox-static (it replaces the dynamic busybox)',
    );
  }
  return bin;
}

/** Everything in the archive, in order (parents first). */
export async function initramfsEntries(kernel: GuestKernel, busybox: string): Promise<CpioEntry[]> {
  const modules = moduleLoadOrder(kernel.modulesDir);
  const entries: CpioEntry[] = ['bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules'].map((p) => ({
    kind: 'dir',
    path: p,
  }));
  entries.push(
    { kind: 'file', path: 'bin/busybox', data: readBusybox(busybox), mode: 0o755 },
    { kind: 'file', path: 'init', data: Buffer.from(STAGE1), mode: 0o755 },
    { kind: 'file', path: 'stage2', data: Buffer.from(STAGE2), mode: 0o644 },
    { kind: 'file', path: 'enter', data: Buffer.from(ENTER), mode: 0o644 },
    { kind: 'file', path: 'dropcaps', data: dropcapsElf(), mode: 0o755 },
    { kind: 'file', path: 'relay.mjs', data: await relayBundle(), mode: 0o644 },
    {
      kind: 'file',
      path: 'lib/modules/load-order',
      data: Buffer.from(modules.map((m) => `${m.name}\n`).join('')),
    },
  );
  for (const m of modules) {
    entries.push({ kind: 'file', path: `lib/modules/${m.name}.ko`, data: fs.readFileSync(m.file) });
  }
  return entries;
}

/** The cache key: the kernel (its version and files) and everything of ours that goes in. */
export function initramfsKey(kernel: GuestKernel, busybox: string): string {
  const stamp = (p: string): string => {
    const st = fs.statSync(p);
    return `${p}:${st.size}:${st.mtimeMs}`;
  };
  return crypto
    .createHash('sha256')
    .update(
      [
        kernel.version,
        stamp(kernel.vmlinuz),
        stamp(kernel.modulesDir),
        stamp(busybox),
        sourceHash(
          REPO_ROOT,
          [`${HERE}/guest`],
          [`${HERE}/mux.ts`, `${HERE}/init-script.ts`, `${HERE}/dropcaps.ts`],
        ),
      ].join('\0'),
    )
    .digest('hex')
    .slice(0, 16);
}

/** Returns the initramfs for `kernel`, building it into `cacheDir` first when its inputs changed. */
export async function ensureInitramfs(
  kernel: GuestKernel,
  cacheDir: string,
  busybox = DEFAULT_BUSYBOX,
): Promise<string> {
  readBusybox(busybox); // a clear error before anything else
  const file = path.join(cacheDir, `initramfs-${kernel.version}-${initramfsKey(kernel, busybox)}.cpio`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(cacheDir, { recursive: true, mode: 0o755 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, cpioArchive(await initramfsEntries(kernel, busybox)), { mode: 0o644 });
  fs.renameSync(tmp, file);
  return file;
}
