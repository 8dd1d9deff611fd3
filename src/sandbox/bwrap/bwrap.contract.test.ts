// The sandbox contract, run against real bubblewrap sandboxes.
import { spawnSync } from 'node:child_process';
import { describe } from 'vitest';
import { silentLogger } from '../../util/log.ts';
import { runSandboxContract } from '../backend.contract.ts';
import { createBwrapBackend } from './backend.ts';

const hasBwrap = spawnSync('bwrap', ['--version']).status === 0;
const isRoot = process.getuid?.() === 0;

describe.skipIf(!hasBwrap)('bwrap', () => {
  runSandboxContract(
    'bwrap',
    () => createBwrapBackend({ log: silentLogger }),
    isRoot ? { uid: 1_500_000_998, gid: 1_500_000_998 } : undefined,
  );
});
