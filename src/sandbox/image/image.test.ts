// The real base image (built once by the vitest global setup): its manifest, and that an agent's tools run in it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testBaseImage, testImageBlocker, testImageCache } from '../../../test/fixtures/base-image.ts';
import { ensureBaseImage, findBaseImage, listImages } from './cache.ts';
import { IMAGE_PACKAGES } from './inputs.ts';
import { imageManifestSchema } from './types.ts';

const blocker = testImageBlocker();
const hasBwrap = spawnSync('bwrap', ['--version']).status === 0;

/** Runs a command with the image as a read-only root and nothing else of the host. */
function inImage(rootfs: string, argv: string[]): { status: number | null; out: string } {
  const r = spawnSync(
    'bwrap',
    [
      ...['--unshare-all', '--die-with-parent', '--ro-bind', rootfs, '/'],
      ...['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--clearenv'],
      ...['--setenv', 'PATH', '/usr/local/bin:/usr/bin:/bin', '--setenv', 'HOME', '/tmp', '--'],
      ...argv,
    ],
    { encoding: 'utf8', timeout: 20_000 },
  );
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe.skipIf(blocker !== undefined)(
  `base image${blocker === undefined ? '' : ` (skipped: ${blocker})`}`,
  () => {
    it('records its id, inputs, node and installed packages in a valid manifest', async () => {
      const img = await testBaseImage();
      const onDisk: unknown = JSON.parse(
        fs.readFileSync(path.join(path.dirname(img.rootfs), 'manifest.json'), 'utf8'),
      );
      const m = imageManifestSchema.parse(onDisk);
      expect(m.id).toBe(img.id);
      expect(path.basename(path.dirname(img.rootfs))).toBe(img.id);
      expect(m.nodeVersion).toBe(process.version);
      const names = new Set(m.packages.map((p) => p.name));
      for (const p of IMAGE_PACKAGES) expect(names, p).toContain(p);
      expect(names).toContain('apt');
      expect(m.packages.every((p) => p.version !== '')).toBe(true);
      expect(m.sizeBytes).toBeGreaterThan(100 * 1024 * 1024);
    });

    it('is found without building, reused by ensure, and listed', async () => {
      const img = await testBaseImage();
      expect(findBaseImage(testImageCache())?.id).toBe(img.id);
      const events: string[] = [];
      const again = await ensureBaseImage({
        cacheDir: testImageCache(),
        onProgress: (e) => events.push(e.type),
      });
      expect(again.manifest.created).toBe(img.manifest.created);
      expect(events).toEqual(['done']);
      expect(listImages(testImageCache()).map((i) => i.id)).toContain(img.id);
    });

    it('has apt configured for a single mapped uid, no recommends, deb.debian.org sources, no lists', async () => {
      const { rootfs } = await testBaseImage();
      const conf = fs.readFileSync(path.join(rootfs, 'etc/apt/apt.conf.d/90corral'), 'utf8');
      expect(conf).toContain('APT::Sandbox::User "root";');
      expect(conf).toContain('APT::Install-Recommends "false";');
      expect(fs.readFileSync(path.join(rootfs, 'etc/apt/sources.list'), 'utf8')).toMatch(
        /^deb http:\/\/deb\.debian\.org\/debian bookworm main$/m,
      );
      expect(
        fs.readdirSync(path.join(rootfs, 'var/lib/apt/lists')).filter((n) => n !== 'partial' && n !== 'lock'),
      ).toEqual([]);
      expect(fs.existsSync(path.join(rootfs, 'etc/resolv.conf'))).toBe(false);
      expect(fs.readdirSync(path.join(rootfs, 'dev'))).toEqual([]);
      for (const mp of ['opt/corral', 'run/corral', 'workspace'])
        expect(fs.statSync(path.join(rootfs, mp)).isDirectory()).toBe(true);
    });

    it.skipIf(!hasBwrap)(
      'runs node, npm, apt-get, python3, git and curl inside with the image as root',
      async () => {
        const { rootfs } = await testBaseImage();
        const node = inImage(rootfs, ['/usr/local/bin/node', '-e', 'console.log(process.version, 6 * 7)']);
        expect(node).toEqual({ status: 0, out: `${process.version} 42\n` });
        for (const [cmd, want] of [
          ['apt-get --version', /^apt \d/],
          ['python3 --version', /^Python 3\.11/],
          ['git --version', /^git version/],
          ['curl --version', /^curl \d/],
          ['ps --version', /procps/],
          ['npm --version', /^\d+\.\d+/],
        ] as const) {
          const r = inImage(rootfs, ['/bin/sh', '-c', cmd]);
          expect(r.status, `${cmd}: ${r.out}`).toBe(0);
          expect(r.out).toMatch(want);
        }
      },
    );
  },
);
