// The sandbox contract, run against real microVMs (QEMU microvm, KVM where it works, else TCG) on the base image.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe } from 'vitest';
import { testImageCache } from '../../../test/fixtures/base-image.ts';
import { microvmBlocker, microvmTestOptions } from '../../../test/fixtures/microvm.ts';
import { silentLogger } from '../../util/log.ts';
import { runSandboxContract } from '../backend.contract.ts';
import { runLimitsContract } from '../limits.contract.ts';
import { findBaseImage } from '../image/index.ts';
import { createMicrovmBackend } from './backend.ts';

const image = findBaseImage(testImageCache());
const blocker = image === undefined ? 'no base image in the test cache' : microvmBlocker();
const isRoot = process.getuid?.() === 0;
const ids = isRoot ? { uid: 1_500_000_950, gid: 1_500_000_950 } : undefined;

describe.skipIf(blocker !== undefined)(
  `microvm${blocker === undefined ? '' : ` (skipped: ${blocker})`}`,
  () => {
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-microvm-run-'));
    fs.chmodSync(runDir, 0o711);
    afterAll(() => fs.rmSync(runDir, { recursive: true, force: true }));
    // one backend for the file: the guest (kernel, initramfs, accelerator) is prepared once
    const backend = createMicrovmBackend({ log: silentLogger, runDir, ...microvmTestOptions() });
    const contractImage = { dir: image?.rootfs ?? '', id: image?.id ?? '' };
    // a TCG guest on a busy 2-core host takes tens of seconds to boot
    const timeoutScale = 6;
    runSandboxContract('microvm', () => backend, ids, contractImage, { timeoutScale });
    runLimitsContract('microvm', () => backend, {
      hostIds: ids && { uid: ids.uid - 10, gid: ids.gid - 10 },
      image: contractImage,
      timeoutScale,
    });
  },
);
