// Escape attempts from inside real runc sandboxes on the base image: every one must fail.
import { afterAll, describe } from 'vitest';
import { silentLogger } from '../../util/log.ts';
import { runEscapeSuite } from './escape.suite.ts';
import { createRuncBackend } from './runc.ts';
import { ociSkipReason, tempRunDir, removeRunDir } from './testing.ts';

const skip = ociSkipReason('runc');

describe.skipIf(skip !== undefined)(`runc${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  const runDir = tempRunDir();
  afterAll(() => removeRunDir(runDir));
  runEscapeSuite('runc', () => createRuncBackend({ log: silentLogger, runDir }), {
    uid: 1_500_000_995,
    gid: 1_500_000_995,
  });
});
