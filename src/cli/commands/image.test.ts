// corral image as a command: list as the caller sees it, and a clear refusal where this user cannot build.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { corralAsUser } from '../../../test/fixtures/as-user.ts';
import { testBaseImage, testImageBlocker, testImageCache } from '../../../test/fixtures/base-image.ts';

const CORRAL = fileURLToPath(new URL('../../../bin/corral.js', import.meta.url));
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const nobodyHasSubids = ['/etc/subuid', '/etc/subgid'].some((f) => {
  try {
    return /^(nobody|65534):/m.test(fs.readFileSync(f, 'utf8'));
  } catch {
    return false;
  }
});
const blocker = testImageBlocker();

describe('corral image', () => {
  it.skipIf(blocker !== undefined)(`lists the current image ${blocker ?? ''}`, async () => {
    const img = await testBaseImage();
    const r = spawnSync(process.execPath, [CORRAL, 'image', 'list', '--json'], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'], CORRAL_HOME: '/nonexistent', CORRAL_IMAGE_CACHE: testImageCache() },
    });
    expect(r.status, r.stderr).toBe(0);
    const rows = z
      .array(z.object({ id: z.string(), current: z.boolean(), sizeBytes: z.number(), packages: z.number() }))
      .parse(JSON.parse(r.stdout));
    expect(rows.find((row) => row.current)).toMatchObject({
      id: img.id,
      sizeBytes: img.manifest.sizeBytes,
      packages: img.manifest.packages.length,
    });
  });

  it.skipIf(!isRoot || nobodyHasSubids)(
    'tells an ordinary user without subordinate ids how to build (run as nobody)',
    () => {
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-image-nobody-'));
      fs.chownSync(home, NOBODY, NOBODY);
      const asNobody = corralAsUser(NOBODY);
      try {
        const [cmd, args] = asNobody.argv(['image', 'build']);
        const r = spawnSync(cmd, args, {
          encoding: 'utf8',
          env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: home, CORRAL_HOME: home },
          timeout: 60_000,
        });
        expect(r.status, r.stderr).toBe(1);
        expect(r.stderr).toContain('needs subordinate ids for nobody in /etc/subuid and /etc/subgid');
        expect(r.stderr).toContain('usermod --add-subuids');
        expect(fs.readdirSync(home)).toEqual([]);
      } finally {
        asNobody.dispose();
        fs.rmSync(home, { recursive: true, force: true });
      }
    },
  );
});
