// corral doctor on the base image: missing, present, stale.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeBuild } from '../../../test/fixtures/image-fake-build.ts';
import { ensureBaseImage } from '../../sandbox/image/index.ts';
import { imageIdOf } from '../../sandbox/image/inputs.ts';
import { imageCheck } from './doctor-image.ts';

let dir: string;
beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-doctor-image-'))));
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('doctor: base image', () => {
  it('says missing, then present, then stale once the inputs no longer match', async () => {
    const log = path.join(dir, 'log');
    expect(imageCheck(dir, {}).ok).toBe(false);
    expect(imageCheck(dir, {}).detail).toMatch(/^missing: corral-base-/);
    const img = await ensureBaseImage({ cacheDir: dir, build: (req) => fakeBuild(req, log, 0) });
    expect(imageCheck(dir, {}).ok).toBe(true);
    expect(imageCheck(dir, {}).detail).toContain(img.id);
    expect(imageCheck(path.join(dir, 'elsewhere'), { CORRAL_IMAGE_CACHE: dir }).ok).toBe(true);

    // the same image as if built for another node: the host now needs a new one
    const inputs = { ...img.manifest.inputs, node: { ...img.manifest.inputs.node, version: 'v19.0.0' } };
    const oldId = imageIdOf(inputs);
    fs.renameSync(path.join(dir, img.id), path.join(dir, oldId));
    fs.writeFileSync(
      path.join(dir, oldId, 'manifest.json'),
      JSON.stringify({ ...img.manifest, id: oldId, inputs, nodeVersion: 'v19.0.0' }),
    );
    const stale = imageCheck(dir, {});
    expect(stale).toMatchObject({ ok: false, fix: 'corral image build' });
    expect(stale.detail).toContain(`stale: ${oldId} (node v19.0.0)`);
  });
});
