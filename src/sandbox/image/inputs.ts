// What an image is made of. The image id is a hash of all of it, so a changed input means a new image.
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ImageInputs } from './types.ts';

/** Bump when the build steps change in a way the other inputs do not show. */
export const BUILD_SCRIPT_VERSION = 1;
export const IMAGE_SUITE = 'bookworm';
export const IMAGE_MIRROR = 'http://deb.debian.org/debian';
export const IMAGE_VARIANT = 'minbase';

/**
 * What an agent expects on top of minbase. libstdc++6 (and libgcc-s1, libc6 from minbase) is what the host's
 * Node links against; iproute2 is for looking (`ip addr`), the sandbox has no network of its own.
 */
export const IMAGE_PACKAGES: readonly string[] = [
  'bash',
  'ca-certificates',
  'coreutils',
  'curl',
  'git',
  'iproute2',
  'less',
  'libstdc++6',
  'procps',
  'python3',
  'xz-utils',
].sort();

/** Keep the image small: no manuals, docs or translations (licences stay). Also applies to later installs. */
export const DPKG_EXCLUDES: readonly string[] = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
];

/** The apt sources inside: all on deb.debian.org, which the `packages` egress preset allows. */
export function imageSources(suite: string, mirror: string): string[] {
  const security = mirror.replace(/\/debian\/?$/, '/debian-security');
  return [
    `deb ${mirror} ${suite} main`,
    `deb ${mirror} ${suite}-updates main`,
    `deb ${security} ${suite}-security main`,
  ];
}

const digestMemo = new Map<string, string>();

/** sha256 of a file, remembered per path, size and mtime (the Node binary is ~100 MB). */
export function fileSha256(file: string): string {
  const st = fs.statSync(file);
  const key = `${file}\0${st.size}\0${st.mtimeMs}\0${st.ino}`;
  const known = digestMemo.get(key);
  if (known !== undefined) return known;
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  const hex = h.digest('hex');
  digestMemo.set(key, hex);
  return hex;
}

export function nodeVersionOf(nodePath: string): string {
  if (nodePath === process.execPath) return process.version;
  return execFileSync(nodePath, ['--version'], { encoding: 'utf8', env: {} }).trim();
}

/** npm installed the usual way beside node: <prefix>/bin/node and <prefix>/lib/node_modules/npm. */
export function npmBesideNode(nodePath: string): { dir: string; version: string } | undefined {
  const dir = path.join(path.dirname(path.dirname(nodePath)), 'lib', 'node_modules', 'npm');
  try {
    const raw: unknown = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    if (typeof raw === 'object' && raw !== null && 'version' in raw && typeof raw.version === 'string')
      return { dir, version: raw.version };
  } catch {
    // no npm beside this node: the image gets node alone
  }
  return undefined;
}

export function planInputs(opts: {
  nodePath: string;
  tool: ImageInputs['tool'];
  mode: ImageInputs['mode'];
}): ImageInputs {
  return {
    suite: IMAGE_SUITE,
    mirror: IMAGE_MIRROR,
    sources: imageSources(IMAGE_SUITE, IMAGE_MIRROR),
    variant: IMAGE_VARIANT,
    packages: [...IMAGE_PACKAGES],
    dpkgExcludes: [...DPKG_EXCLUDES],
    tool: opts.tool,
    mode: opts.mode,
    node: { version: nodeVersionOf(opts.nodePath), sha256: fileSha256(opts.nodePath) },
    npm: npmBesideNode(opts.nodePath)?.version ?? null,
    scriptVersion: BUILD_SCRIPT_VERSION,
  };
}

/** Canonical JSON (sorted keys) so the id does not depend on property order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function imageIdOf(inputs: ImageInputs): string {
  const hex = crypto.createHash('sha256').update(canonical(inputs)).digest('hex');
  return `corral-base-${hex.slice(0, 12)}`;
}
