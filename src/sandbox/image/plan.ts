// The package set a build would install today, resolved by apt without building (mmdebstrap --simulate):
// how the tests show that two builds of the same inputs give the same packages.
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import type { ImageInputs, InstalledPackage } from './types.ts';

const run = promisify(execFile);
const PLAN_TIMEOUT_MS = 120_000;

/** `Inst NAME (VERSION SUITES [ARCH])` lines of apt-get --simulate, deduplicated and sorted by name. */
export function parseSimulation(log: string): InstalledPackage[] {
  const byName = new Map<string, InstalledPackage>();
  for (const m of log.matchAll(/^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) .*\[([^\]]+)\]\)/gm)) {
    const [, name, version, arch] = m;
    if (name !== undefined && version !== undefined && arch !== undefined)
      byName.set(name, { name, version, arch });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Needs mmdebstrap and the mirror; as an ordinary user, subordinate ids like a real build. */
export async function planPackages(inputs: ImageInputs): Promise<InstalledPackage[]> {
  const { stderr } = await run(
    'mmdebstrap',
    [
      '--simulate',
      '--verbose',
      `--mode=${inputs.mode}`,
      `--variant=${inputs.variant}`,
      `--include=${inputs.packages.join(',')}`,
      inputs.suite,
      '/dev/null',
      ...inputs.sources,
    ],
    {
      env: {
        PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        TMPDIR: os.tmpdir(),
        LC_ALL: 'C.UTF-8',
      },
      timeout: PLAN_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return parseSimulation(stderr);
}
