// The sandbox contract, run against real runc containers on the base image (and the layer contract with it).
import { afterAll, describe } from 'vitest';
import { silentLogger } from '../../util/log.ts';
import { runSandboxContract } from '../backend.contract.ts';
import { runLimitsContract } from '../limits.contract.ts';
import { createRuncBackend } from './runc.ts';
import { baseImage, ociSkipReason, tempRunDir, removeRunDir } from './testing.ts';

const skip = ociSkipReason('runc');

describe.skipIf(skip !== undefined)(`runc${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  const runDir = tempRunDir();
  afterAll(() => removeRunDir(runDir));
  runSandboxContract(
    'runc',
    () => createRuncBackend({ log: silentLogger, runDir }),
    { uid: 1_500_000_997, gid: 1_500_000_997 },
    baseImage && { dir: baseImage.rootfs, id: baseImage.id },
  );
  runLimitsContract('runc', () => createRuncBackend({ log: silentLogger, runDir }), {
    hostIds: { uid: 1_500_000_987, gid: 1_500_000_987 },
    ...(baseImage && { image: { dir: baseImage.rootfs, id: baseImage.id } }),
  });
});
