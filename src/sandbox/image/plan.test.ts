// Reproducibility: apt resolves the same inputs to the same package set, and that set is what the image holds.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { testBaseImage, testImageBlocker } from '../../../test/fixtures/base-image.ts';
import { parseSimulation, planPackages } from './plan.ts';

const blocker =
  testImageBlocker() ??
  (spawnSync('mmdebstrap', ['--version']).status === 0 ? undefined : 'mmdebstrap is not installed');

describe('planned package set', () => {
  it('parses apt-get --simulate lines, once per package', () => {
    const log = [
      'Inst libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [amd64]) []',
      'Inst git-man (1:2.39.5-0+deb12u3 Debian:12.15/oldstable [all])',
      'Inst libssh2-1 [1.10.0-3] (1.10.0-3+deb12u1 Debian-Security:12/oldstable-security [amd64])',
      'Conf libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [amd64])',
      'Inst libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [amd64])',
    ].join('\n');
    expect(parseSimulation(log)).toEqual([
      { name: 'git-man', version: '1:2.39.5-0+deb12u3', arch: 'all' },
      { name: 'libc6', version: '2.36-9+deb12u14', arch: 'amd64' },
      { name: 'libssh2-1', version: '1.10.0-3+deb12u1', arch: 'amd64' },
    ]);
  });

  it.skipIf(blocker !== undefined)(
    `resolved again, names exactly the packages the cached image holds ${blocker ?? ''}`,
    async () => {
      const image = await testBaseImage();
      const plan = await planPackages(image.manifest.inputs);
      expect(plan.length).toBeGreaterThan(100);
      // versions move with Debian's point and security releases; the set of packages does not
      expect(plan.map((p) => p.name)).toEqual(image.manifest.packages.map((p) => p.name));
    },
    90_000,
  );
});
