// The doctor's base image check: present (and how big), missing, or stale (built for other inputs).
import { formatBytes } from '../../sandbox/image/display.ts';
import { buildBlocker, currentInputs, imageCacheDir, listImages } from '../../sandbox/image/index.ts';
import type { Check } from './doctor.ts';

export function imageCheck(imagesDir: string, env: NodeJS.ProcessEnv = process.env): Check {
  const name = 'base image';
  const cacheDir = imageCacheDir(imagesDir, env);
  const { id } = currentInputs();
  const all = listImages(cacheDir);
  const current = all.find((i) => i.id === id);
  const fix = buildBlocker() ?? 'corral image build';
  if (current !== undefined) {
    const m = current.manifest;
    const older = all.length - 1;
    return {
      name,
      ok: true,
      detail:
        `${id} (${formatBytes(m.sizeBytes)}, ${m.packages.length} packages, node ${m.nodeVersion}) in ${cacheDir}` +
        (older > 0 ? `; ${older} older image(s), see: corral image list` : ''),
    };
  }
  const newest = all[0];
  if (newest !== undefined) {
    return {
      name,
      ok: false,
      detail: `stale: ${newest.id} (node ${newest.manifest.nodeVersion}) was built for other inputs; this host needs ${id}`,
      fix,
    };
  }
  return { name, ok: false, detail: `missing: ${id} is not built in ${cacheDir} (about a minute)`, fix };
}
