// The guest kernel: Debian's cloud kernel (virtio drivers as modules), unpacked from its package into corral's
// cache (never installed, so the host's boot loader and initramfs hooks are not touched), or one the operator
// names in corral.yaml (microvm.kernel).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { CorralError } from '../../util/errors.ts';

export const DEBIAN_KERNEL_PACKAGE = 'linux-image-cloud-amd64';
const FETCH_TIMEOUT_MS = 10 * 60_000;

export interface GuestKernel {
  /** the bzImage QEMU boots */
  vmlinuz: string;
  /** its /lib/modules/<version> tree */
  modulesDir: string;
  version: string;
}

const isDir = (p: string): boolean => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;
const isFile = (p: string): boolean => fs.statSync(p, { throwIfNoEntry: false })?.isFile() === true;

/** Newest first, comparing the numeric parts of a version such as 6.1.0-57-cloud-amd64. */
function byVersionDesc(a: string, b: string): number {
  const pa = a.split(/[^0-9]+/).map(Number);
  const pb = b.split(/[^0-9]+/).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pb[i] ?? 0) - (pa[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * `source` is a vmlinuz file (its modules in ../lib/modules/VERSION beside its boot/ directory, or the host's
 * /lib/modules/VERSION) or a directory holding an unpacked kernel package (boot/vmlinuz-VERSION and
 * lib/modules/VERSION). Undefined when there is no usable kernel there.
 */
export function findKernel(source: string): GuestKernel | undefined {
  if (isFile(source)) {
    const version = path.basename(source).replace(/^vmlinuz-/, '');
    const besides = path.join(path.dirname(path.dirname(source)), 'lib/modules', version);
    const modulesDir = isDir(besides) ? besides : path.join('/lib/modules', version);
    return isDir(modulesDir) ? { vmlinuz: source, modulesDir, version } : undefined;
  }
  if (!isDir(path.join(source, 'boot'))) return undefined;
  const versions = fs
    .readdirSync(path.join(source, 'boot'))
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => isDir(path.join(source, 'lib/modules', v)))
    .sort(byVersionDesc);
  const version = versions[0];
  if (version === undefined) return undefined;
  return {
    vmlinuz: path.join(source, 'boot', `vmlinuz-${version}`),
    modulesDir: path.join(source, 'lib/modules', version),
    version,
  };
}

async function run(cmd: string, args: string[], cwd: string): Promise<string> {
  try {
    const r = await promisify(execFile)(cmd, args, {
      cwd,
      encoding: 'utf8',
      timeout: FETCH_TIMEOUT_MS,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
    });
    return r.stdout;
  } catch (err) {
    const detail = err instanceof Error && 'stderr' in err ? String(err.stderr).trim() : String(err);
    throw new CorralError(
      'microvm_kernel_fetch',
      `${cmd} ${args.join(' ')} failed: ${detail}`,
      `fetch it by hand: apt-get download ${DEBIAN_KERNEL_PACKAGE} and the linux-image-* package it depends on, then dpkg-deb -x that one into a directory and set microvm.kernel to it`,
      { cause: err },
    );
  }
}

/**
 * Downloads Debian's cloud kernel package with apt (the metapackage, then the versioned package it depends on)
 * and unpacks it into `dir` without installing it. Returns the kernel found there.
 */
export async function fetchDebianKernel(dir: string): Promise<GuestKernel> {
  const tmp = `${dir}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.join(tmp, 'debs'), { recursive: true, mode: 0o755 });
  try {
    // as root apt would drop to _apt, which cannot write a root-owned temp dir; the download is verified either way
    const apt = ['-q', '-o', 'APT::Sandbox::User=root', 'download'];
    const debs = path.join(tmp, 'debs');
    await run('apt-get', [...apt, DEBIAN_KERNEL_PACKAGE], debs);
    const meta = fs.readdirSync(debs).find((f) => f.startsWith(`${DEBIAN_KERNEL_PACKAGE}_`));
    if (meta === undefined) throw new CorralError('microvm_kernel_fetch', 'apt-get download gave no package');
    const depends = await run('dpkg-deb', ['-f', meta, 'Depends'], debs);
    const image = /linux-image-[0-9][^\s,(]*/.exec(depends)?.[0];
    if (image === undefined) {
      throw new CorralError('microvm_kernel_fetch', `${meta} depends on no linux-image package: ${depends}`);
    }
    await run('apt-get', [...apt, image], debs);
    const deb = fs.readdirSync(debs).find((f) => f.startsWith(`${image}_`));
    if (deb === undefined)
      throw new CorralError('microvm_kernel_fetch', `apt-get download ${image} gave nothing`);
    fs.mkdirSync(path.join(tmp, 'root'));
    await run('dpkg-deb', ['-x', deb, path.join(tmp, 'root')], debs);
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 });
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(path.join(tmp, 'root'), dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const found = findKernel(dir);
  if (found === undefined) throw new CorralError('microvm_kernel_fetch', `no kernel in ${dir}`);
  return found;
}
