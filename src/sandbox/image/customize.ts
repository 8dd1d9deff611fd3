// What the image gets after bootstrap: Node (and npm), apt that works as a lone mapped uid, mount points, no host traces.
import fs from 'node:fs';
import path from 'node:path';
import { npmBesideNode } from './inputs.ts';
import type { ImageInputs, InstalledPackage } from './types.ts';

/**
 * apt drops to the `_apt` user to download, which does not exist when the agent is the only uid mapped into its
 * user namespace: download as root (which is the agent's own uid outside). No recommends keeps installs small.
 * apt reads http_proxy/https_proxy from the environment, which the sandbox points at the gateway.
 */
export const APT_CONF = [
  '// corral: apt inside a sandbox where only one uid is mapped',
  'APT::Sandbox::User "root";',
  'APT::Install-Recommends "false";',
  'APT::Install-Suggests "false";',
  'Acquire::Retries "3";',
  '',
].join('\n');

/** Empty directories the backends mount over; a read-only base cannot grow them at start. */
export const MOUNT_POINTS = ['opt/corral', 'run/corral', 'workspace'];

function write(rootfs: string, rel: string, content: string, mode = 0o644): void {
  const file = path.join(rootfs, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

/** Copies the host's node to /usr/local/bin/node and, when installed beside it, npm and npx. */
export function addNode(rootfs: string, nodePath: string): void {
  const bin = path.join(rootfs, 'usr/local/bin');
  fs.mkdirSync(bin, { recursive: true, mode: 0o755 });
  fs.copyFileSync(nodePath, path.join(bin, 'node'));
  fs.chmodSync(path.join(bin, 'node'), 0o755);
  const npm = npmBesideNode(nodePath);
  if (npm === undefined) return;
  const dest = path.join(rootfs, 'usr/local/lib/node_modules/npm');
  fs.cpSync(npm.dir, dest, { recursive: true, verbatimSymlinks: true });
  for (const [name, target] of [
    ['npm', 'npm-cli.js'],
    ['npx', 'npx-cli.js'],
  ] as const) {
    fs.rmSync(path.join(bin, name), { force: true });
    fs.symlinkSync(`../lib/node_modules/npm/bin/${target}`, path.join(bin, name));
  }
}

export function configure(rootfs: string, inputs: ImageInputs): void {
  write(rootfs, 'etc/apt/apt.conf.d/90corral', APT_CONF);
  write(rootfs, 'etc/dpkg/dpkg.cfg.d/90corral', inputs.dpkgExcludes.join('\n') + '\n');
  write(rootfs, 'etc/apt/sources.list', inputs.sources.join('\n') + '\n');
  // the build host's resolver and name must not leak into every sandbox; the backends bind what they need
  fs.rmSync(path.join(rootfs, 'etc/resolv.conf'), { force: true });
  write(rootfs, 'etc/hostname', 'corral\n');
  write(rootfs, 'etc/hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  // device nodes come from the backend (bwrap --dev, the OCI runtime), never from the image
  const dev = path.join(rootfs, 'dev');
  fs.rmSync(dev, { recursive: true, force: true });
  fs.mkdirSync(dev, { mode: 0o755 });
  for (const rel of MOUNT_POINTS) fs.mkdirSync(path.join(rootfs, rel), { recursive: true, mode: 0o755 });
  // apt lists and downloaded .debs are gone (mmdebstrap cleans them; debootstrap does not): `apt-get update` first
  for (const rel of ['var/lib/apt/lists', 'var/cache/apt/archives']) {
    const dir = path.join(rootfs, rel);
    for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      if (name === 'partial' || name === 'lock') continue;
      fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    }
  }
}

/** Installed packages from the rootfs's own dpkg database (what `dpkg-query -W` inside would print). */
export function installedPackages(rootfs: string): InstalledPackage[] {
  const status = fs.readFileSync(path.join(rootfs, 'var/lib/dpkg/status'), 'utf8');
  const out: InstalledPackage[] = [];
  for (const stanza of status.split(/\n\n+/)) {
    const field = (name: string): string | undefined =>
      new RegExp(`^${name}: (.*)$`, 'm').exec(stanza)?.[1]?.trim();
    const name = field('Package');
    const version = field('Version');
    if (name === undefined || version === undefined) continue;
    if (field('Status') !== 'install ok installed') continue;
    out.push({ name, version, arch: field('Architecture') ?? '' });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
