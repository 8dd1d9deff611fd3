// Escape attempts from inside real gVisor (runsc) sandboxes on the base image: every one must fail.
import { afterAll, describe } from 'vitest';
import { silentLogger } from '../../util/log.ts';
import { runEscapeSuite } from './escape.suite.ts';
import { createGvisorBackend } from './gvisor.ts';
import { ociSkipReason, tempRunDir, removeRunDir } from './testing.ts';

const skip = ociSkipReason('runsc');

describe.skipIf(skip !== undefined)(`gvisor${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  const runDir = tempRunDir();
  afterAll(() => removeRunDir(runDir));
  runEscapeSuite('gvisor', () => createGvisorBackend({ log: silentLogger, runDir }), {
    uid: 1_500_000_994,
    gid: 1_500_000_994,
  });
});
