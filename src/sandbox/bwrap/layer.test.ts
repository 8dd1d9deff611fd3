// bwrap on the base image: the self-test holds there too, and a killed corral's layer mount is reaped.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../util/log.ts';
import { layerMountsUnder } from '../layer/mountinfo.ts';
import { devBaseImage, hasFuseOverlayfs } from '../layer/testing.ts';
import { selfTest } from '../self-test.ts';
import { DEFAULT_LIMITS } from '../types.ts';
import { createBwrapBackend } from './backend.ts';
import { killHolder, startHolder } from '../../../test/fixtures/holder.ts';

const hasBwrap = spawnSync('bwrap', ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;
const image = devBaseImage();
const TIMEOUT_MS = 60_000;

describe.skipIf(!hasBwrap || !hasFuseOverlayfs || image === undefined)('bwrap on the base image', () => {
  const imageDir = image ?? '';
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  function scratch(): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-bwrap-layer-'));
    dirs.push(d);
    fs.chmodSync(d, 0o711);
    return d;
  }

  it(
    'passes the isolation self-test with / on a fresh layer',
    async () => {
      const ids = isRoot ? { uid: 1_500_000_981, gid: 1_500_000_981 } : undefined;
      const runDir = scratch();
      const backend = createBwrapBackend({ log: silentLogger, runDir });
      const r = await selfTest(backend, { hostIds: ids, image: { dir: imageDir, id: 'dev' } });
      expect(r.failures).toEqual([]);
      expect(r.facts['usr']).toBe('writable');
      expect(r.facts['fileowner']).toBe(String(ids?.uid ?? process.getuid?.()));
      expect(layerMountsUnder(runDir)).toEqual([]);
    },
    TIMEOUT_MS,
  );

  it.skipIf(!isRoot)(
    "a killed corral leaves its layer mounted; reap unmounts it and the agent's next sandbox finds its files",
    async () => {
      const ids = { uid: 1_500_000_982, gid: 1_500_000_982 };
      const dir = scratch();
      const runDir = path.join(dir, 'run');
      for (const d of ['workspace', 'runtime', 'gw', 'etc']) fs.mkdirSync(path.join(dir, d), { mode: 0o755 });
      fs.chownSync(path.join(dir, 'workspace'), ids.uid, ids.gid);
      const layerDir = path.join(dir, 'layer');
      const holder = await startHolder({
        backend: 'bwrap',
        runDir,
        dir,
        imageDir,
        layerDir,
        hostIds: ids,
        script: 'echo kept > /etc/kept; echo up; sleep 300',
      });
      await killHolder(holder);
      // bwrap dies with its parent; the fuse process is corral's no longer and keeps the mount
      const left = layerMountsUnder(runDir);
      expect(left).toHaveLength(1);

      const backend = createBwrapBackend({ log: silentLogger, runDir });
      expect(await backend.reap?.(runDir)).toEqual(left);
      expect(layerMountsUnder(runDir)).toEqual([]);
      expect(spawnSync('pgrep', ['-u', String(ids.uid)]).status).toBe(1);

      const next = await backend.start({
        sandboxId: 'next',
        agent: 'held',
        workspaceDir: path.join(dir, 'workspace'),
        runtimeDir: path.join(dir, 'runtime'),
        gatewayDir: path.join(dir, 'gw'),
        etcDir: path.join(dir, 'etc'),
        root: { imageDir, imageId: 'dev', layerDir },
        hostIds: ids,
        env: { PATH: '/usr/bin:/bin' },
        limits: DEFAULT_LIMITS,
        extraReadOnly: [],
        command: ['/bin/cat', '/etc/kept'],
      });
      let out = '';
      next.stdout.on('data', (c: Buffer) => (out += c.toString()));
      expect((await next.exited).code).toBe(0);
      expect(out).toBe('kept\n');
      expect(layerMountsUnder(runDir)).toEqual([]);
    },
    TIMEOUT_MS,
  );
});
