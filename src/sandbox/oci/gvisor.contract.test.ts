// The sandbox contract, run against real gVisor (runsc) sandboxes on the base image (and the layer contract with it).
import { afterAll, describe } from 'vitest';
import { silentLogger } from '../../util/log.ts';
import { runSandboxContract } from '../backend.contract.ts';
import { runLimitsContract } from '../limits.contract.ts';
import { createGvisorBackend } from './gvisor.ts';
import { baseImage, ociSkipReason, tempRunDir, removeRunDir } from './testing.ts';

const skip = ociSkipReason('runsc');

describe.skipIf(skip !== undefined)(`gvisor${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  const runDir = tempRunDir();
  afterAll(() => removeRunDir(runDir));
  runSandboxContract(
    'gvisor',
    () => createGvisorBackend({ log: silentLogger, runDir }),
    { uid: 1_500_000_996, gid: 1_500_000_996 },
    baseImage && { dir: baseImage.rootfs, id: baseImage.id },
  );
  runLimitsContract('gvisor', () => createGvisorBackend({ log: silentLogger, runDir }), {
    hostIds: { uid: 1_500_000_986, gid: 1_500_000_986 },
    ...(baseImage && { image: { dir: baseImage.rootfs, id: baseImage.id } }),
  });
});
