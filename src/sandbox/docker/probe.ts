// Can corral use this Docker daemon? Reachable, new enough, and remapping root to an unprivileged uid range.
import { errorMessage, isCorralError } from '../../util/errors.ts';
import type { Availability, HostIds } from '../types.ts';
import type { DockerApi, DockerInfo } from './api.ts';

const MIN_API = [1, 41];
const START_FIX =
  'start dockerd with user namespace remapping: sudo scripts/start-dockerd.sh (dockerd --userns-remap=default)';

/**
 * The host uid/gid root inside a container is, read from the daemon itself: with userns-remap its data root
 * ends in `/<uid>.<gid>` (e.g. /var/lib/docker/100000.100000, dockremap's first /etc/subuid id). One range for
 * every container of the daemon. undefined: no remapping, root inside would be root outside.
 */
export function remappedRoot(info: DockerInfo): HostIds | undefined {
  if (!(info.SecurityOptions ?? []).includes('name=userns')) return undefined;
  const m = /\/(\d+)\.(\d+)$/.exec(info.DockerRootDir);
  if (m === null) return undefined;
  const ids = { uid: Number(m[1]), gid: Number(m[2]) };
  return ids.uid > 0 && ids.gid > 0 ? ids : undefined;
}

function apiAtLeast(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [wantMajor = 0, wantMinor = 0] = MIN_API;
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

export type DockerProbe =
  { ok: true; detail: string; info: DockerInfo; root: HostIds } | { ok: false; reason: string; fix: string };

export async function probeDocker(
  api: DockerApi,
  opts: { isRoot: boolean; runtime: string | undefined },
): Promise<DockerProbe> {
  if (!opts.isRoot) {
    return {
      ok: false,
      reason:
        'the docker backend needs corral to run as root: it gives each workspace to Docker’s remapped root uid',
      fix: 'run corral as root, or choose another backend (bwrap works as an ordinary user)',
    };
  }
  let version: { Version: string; ApiVersion: string };
  let info: DockerInfo;
  try {
    await api.ping();
    version = await api.version();
    info = await api.info();
  } catch (err) {
    const fix = isCorralError(err) ? (err.hint ?? START_FIX) : START_FIX;
    return { ok: false, reason: `Docker is not reachable at ${api.socketPath}: ${errorMessage(err)}`, fix };
  }
  if (!apiAtLeast(version.ApiVersion)) {
    return {
      ok: false,
      reason: `Docker ${version.Version} speaks API ${version.ApiVersion}; corral needs ${MIN_API.join('.')} (Docker 20.10) or newer`,
      fix: 'apt-get install -y docker.io (Debian 12 or newer), or upgrade Docker Engine',
    };
  }
  const root = remappedRoot(info);
  if (root === undefined) {
    // Fail closed: without remapping, a file root writes into the workspace belongs to host root, and any
    // container escape is a host-root escape. gVisor alone does not change who owns those files.
    return {
      ok: false,
      reason: 'Docker runs without user namespace remapping: root in a container would be root on the host',
      fix: START_FIX,
    };
  }
  if (opts.runtime !== undefined && !Object.keys(info.Runtimes ?? {}).includes(opts.runtime)) {
    return {
      ok: false,
      reason: `Docker has no runtime '${opts.runtime}' registered (it has: ${Object.keys(info.Runtimes ?? {}).join(', ')})`,
      fix: `register it in daemon.json ("runtimes": {"${opts.runtime}": {"path": "/usr/bin/${opts.runtime}"}}) as scripts/start-dockerd.sh does, or drop docker.runtime`,
    };
  }
  if (opts.runtime === 'runsc') {
    // without --host-uds, gVisor refuses to connect to a host Unix socket: the gateway would be unreachable
    const args = JSON.stringify(info.Runtimes?.['runsc'] ?? {});
    if (!/--host-uds=(open|all)/.test(args))
      return {
        ok: false,
        reason:
          "Docker's runsc runtime is registered without --host-uds=open, so the sandbox cannot reach the gateway socket",
        fix: 'add "--host-uds=open" to runsc\'s "runtimeArgs" in dockerd\'s daemon.json (scripts/start-dockerd.sh does), then restart dockerd',
      };
  }
  const detail = `Docker ${version.Version} (API ${version.ApiVersion}), root remapped to ${root.uid}:${root.gid}, runtime ${opts.runtime ?? 'runc'}, cgroup v${info.CgroupVersion}`;
  return { ok: true, detail, info, root };
}

export function availability(p: DockerProbe): Availability {
  return p.ok ? { ok: true, detail: p.detail } : { ok: false, reason: p.reason, fix: p.fix };
}
