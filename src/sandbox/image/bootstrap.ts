// The bootstrap command as data (mmdebstrap, or debootstrap when mmdebstrap is missing) and how its log maps to steps.
import type { ImageInputs, ImageStep } from './types.ts';

/** A fixed timestamp: with it mmdebstrap gives the same files for the same mirror content. */
export const SOURCE_DATE_EPOCH = '1700000000';

export interface BootstrapPlan {
  argv: string[];
  /** where the result lands: a directory, or (unshare mode) a tarball to unpack */
  output: { kind: 'dir'; path: string } | { kind: 'tar'; path: string };
}

/**
 * As root the tool runs in a fresh pid and mount namespace of its own: if it (or we) die, the kernel ends every
 * process it started and drops every mount it made, so no half-built chroot keeps /proc or /dev mounted.
 * setpriv --pdeathsig ties that namespace to our process.
 */
function rootWrap(argv: string[]): string[] {
  return [
    'setpriv',
    '--pdeathsig',
    'KILL',
    '--',
    'unshare',
    '--mount',
    '--propagation',
    'private',
    '--pid',
    '--fork',
    '--kill-child',
    '--mount-proc',
    ...argv,
  ];
}

export function bootstrapPlan(inputs: ImageInputs, buildDir: string): BootstrapPlan {
  const mode = inputs.mode;
  const rootfs = `${buildDir}/rootfs`;
  if (inputs.tool === 'debootstrap') {
    if (mode !== 'root')
      throw new Error('debootstrap needs root; install mmdebstrap to build as an ordinary user');
    const argv = [
      'debootstrap',
      `--variant=${inputs.variant}`,
      `--include=${inputs.packages.join(',')}`,
      inputs.suite,
      rootfs,
      inputs.mirror,
    ];
    return { argv: rootWrap(argv), output: { kind: 'dir', path: rootfs } };
  }
  const tar = `${buildDir}/rootfs.tar`;
  const argv = [
    'mmdebstrap',
    `--mode=${mode}`,
    `--variant=${inputs.variant}`,
    `--include=${inputs.packages.join(',')}`,
    ...inputs.dpkgExcludes.map((line) => `--dpkgopt=${line}`),
    // as an ordinary user the files would belong to subordinate uids we could not remove: take a tarball instead
    ...(mode === 'unshare' ? ['--format=tar'] : ['--format=directory']),
    inputs.suite,
    mode === 'unshare' ? tar : rootfs,
    ...inputs.sources,
  ];
  return mode === 'root'
    ? { argv: rootWrap(argv), output: { kind: 'dir', path: rootfs } }
    : { argv: ['setpriv', '--pdeathsig', 'KILL', '--', ...argv], output: { kind: 'tar', path: tar } };
}

const STEP_PATTERNS: readonly [RegExp, ImageStep][] = [
  // mmdebstrap
  [/running apt-get update|finding correct signed-by/, 'resolving'],
  [/downloading packages/, 'downloading'],
  [/extracting archives/, 'extracting'],
  [/installing (essential|remaining) packages/, 'installing'],
  // debootstrap
  [/Retrieving (Release|Packages)|Validating Packages|Resolving dependencies|Checking Release/, 'resolving'],
  [/Retrieving |Validating /, 'downloading'],
  [/Extracting /, 'extracting'],
  [/Installing |Unpacking |Configuring /, 'installing'],
];

/** The step a log line of the bootstrap tool announces, if any. */
export function stepOfLine(line: string): ImageStep | undefined {
  for (const [re, step] of STEP_PATTERNS) if (re.test(line)) return step;
  return undefined;
}
