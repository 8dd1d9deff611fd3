// The image cache with a fast stand-in builder in real processes: one build for concurrent callers, no half image
// after a killed build, removal rules.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fakeBuild } from '../../../test/fixtures/image-fake-build.ts';
import {
  currentInputs,
  ensureBaseImage,
  findBaseImage,
  listImages,
  readImage,
  removeImage,
} from './cache.ts';
import { imageIdOf } from './inputs.ts';

const SCRIPT = fileURLToPath(new URL('../../../test/fixtures/image-fake-build.ts', import.meta.url));

let dir: string;
let cacheDir: string;
let log: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-image-cache-'));
  cacheDir = path.join(dir, 'images');
  log = path.join(dir, 'builds.log');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function builder(buildMs: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, cacheDir, log, String(buildMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<{ code: number | null; out: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, out: out.trim() })),
  );
  return { child, exited };
}

const builds = (): string[] => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []);

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('image cache', () => {
  it('builds once when two processes ensure the same image at the same time', async () => {
    const [a, b] = [builder(1_500), builder(1_500)];
    const [ra, rb] = await Promise.all([a.exited, b.exited]);
    const id = currentInputs().id;
    expect(ra).toEqual({ code: 0, out: id });
    expect(rb).toEqual({ code: 0, out: id });
    expect(builds()).toHaveLength(1);
    expect(findBaseImage(cacheDir)?.id).toBe(id);
    expect(fs.readdirSync(cacheDir).sort()).toEqual([id]);
  });

  it('never treats a killed build as an image, and the next builder cleans up after it', async () => {
    const { child, exited } = builder(60_000);
    await until(() => builds().length === 1, 'the build to start');
    child.kill('SIGKILL');
    await exited;
    const id = currentInputs().id;
    const left = fs.readdirSync(cacheDir).sort();
    expect(left).toEqual([`.build-${id}-${child.pid}`, `${id}.lock`]);
    expect(findBaseImage(cacheDir)).toBeUndefined();
    expect(listImages(cacheDir)).toEqual([]);

    const img = await ensureBaseImage({ cacheDir, build: (req) => fakeBuild(req, log, 0) });
    expect(img.id).toBe(id);
    expect(builds()).toHaveLength(2);
    expect(fs.readdirSync(cacheDir)).toEqual([id]);
  });

  it('rebuilds with --force in place, lists every image and removes all but the current one', async () => {
    const first = await ensureBaseImage({ cacheDir, build: (req) => fakeBuild(req, log, 0) });
    const forced = await ensureBaseImage({ cacheDir, force: true, build: (req) => fakeBuild(req, log, 10) });
    expect(forced.manifest.created >= first.manifest.created).toBe(true);
    expect(forced.manifest.buildMs).toBe(10);
    expect(builds()).toHaveLength(2);

    // an image of other inputs (an older node, say): listed, removable, never current
    const oldInputs = {
      ...first.manifest.inputs,
      node: { ...first.manifest.inputs.node, version: 'v19.0.0' },
    };
    const oldId = imageIdOf(oldInputs);
    fs.cpSync(path.join(cacheDir, first.id), path.join(cacheDir, oldId), { recursive: true });
    const m = path.join(cacheDir, oldId, 'manifest.json');
    fs.writeFileSync(
      m,
      JSON.stringify({ ...first.manifest, id: oldId, inputs: oldInputs, created: '2020-01-01T00:00:00Z' }),
    );
    expect(listImages(cacheDir).map((i) => i.id)).toEqual([first.id, oldId]);

    expect(() => removeImage(cacheDir, first.id)).toThrow(/current base image/);
    expect(() => removeImage(cacheDir, '../etc')).toThrow(/not an image id/);
    removeImage(cacheDir, oldId);
    expect(readImage(cacheDir, oldId)).toBeUndefined();
    removeImage(cacheDir, first.id, { force: true });
    expect(fs.readdirSync(cacheDir)).toEqual([]);
  });
});
