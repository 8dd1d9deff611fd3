// The sandbox contract, run against real bubblewrap sandboxes: the legacy layout (host /usr) and the base image.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe } from 'vitest';
import { silentLogger } from '../../util/log.ts';
import { runSandboxContract } from '../backend.contract.ts';
import { runLimitsContract } from '../limits.contract.ts';
import { devBaseImage, hasFuseOverlayfs } from '../layer/testing.ts';
import { createBwrapBackend } from './backend.ts';

const hasBwrap = spawnSync('bwrap', ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;
const ids = isRoot ? { uid: 1_500_000_998, gid: 1_500_000_998 } : undefined;
const image = devBaseImage();

describe.skipIf(!hasBwrap)('bwrap', () => {
  runSandboxContract('bwrap', () => createBwrapBackend({ log: silentLogger }), ids);
  runLimitsContract('bwrap', () => createBwrapBackend({ log: silentLogger }), { hostIds: ids });
});

describe.skipIf(!hasBwrap || !hasFuseOverlayfs || image === undefined)('bwrap on the base image', () => {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-contract-run-'));
  fs.chmodSync(runDir, 0o711);
  afterAll(() => fs.rmSync(runDir, { recursive: true, force: true }));
  runSandboxContract(
    'bwrap+image',
    () => createBwrapBackend({ log: silentLogger, runDir }),
    ids && { uid: ids.uid - 10, gid: ids.gid - 10 },
    { dir: image ?? '', id: 'corral-dev' },
  );
  runLimitsContract('bwrap+image', () => createBwrapBackend({ log: silentLogger, runDir }), {
    hostIds: ids && { uid: ids.uid - 10, gid: ids.gid - 10 },
    image: { dir: image ?? '', id: 'corral-dev' },
  });
});
