// Starts one sandbox in a separate Node process for the contract's "the host was killed" case:
// `node --import tsx contract-child.ts BACKEND RUNDIR DIR UID|- IMAGEDIR|- IMAGEID|- COMMAND…` prints
// `started PID` once the command inside has written its first line, then waits to be killed. Backends add their
// factory below; it gets corral's run directory (where, e.g., agent layers are mounted).
import path from 'node:path';
import { microvmTestOptions } from '../../../test/fixtures/microvm.ts';
import { createBwrapBackend } from '../bwrap/backend.ts';
import { createMicrovmBackend } from '../microvm/backend.ts';
import { createGvisorBackend } from '../oci/gvisor.ts';
import { createRuncBackend } from '../oci/runc.ts';
import { silentLogger } from '../../util/log.ts';
import type { SandboxBackend } from '../types.ts';
import { contractSpec } from './spec.ts';

const FACTORIES: Record<string, (runDir: string) => SandboxBackend> = {
  bwrap: (runDir) => createBwrapBackend({ log: silentLogger, runDir }),
  'bwrap+image': (runDir) => createBwrapBackend({ log: silentLogger, runDir }),
  runc: (runDir) => createRuncBackend({ log: silentLogger, runDir }),
  gvisor: (runDir) => createGvisorBackend({ log: silentLogger, runDir }),
  microvm: (runDir) => createMicrovmBackend({ log: silentLogger, runDir, ...microvmTestOptions() }),
};

export const CONTRACT_CHILD = new URL(import.meta.url).pathname;
export const hasContractChild = (backend: string): boolean => FACTORIES[backend] !== undefined;

async function main(args: string[]): Promise<void> {
  const [name = '', runDir = '', dir = '', uid = '-', imageDir = '-', imageId = '-', ...command] = args;
  const factory = FACTORIES[name];
  if (factory === undefined) throw new Error(`no contract factory for backend ${name}`);
  const ids = uid === '-' ? undefined : { uid: Number(uid), gid: Number(uid) };
  const root = imageDir === '-' ? {} : { root: { imageDir, imageId, layerDir: path.join(dir, 'layer') } };
  const sandbox = await factory(runDir).start(contractSpec(dir, ids, command, root));
  sandbox.stdout.once('data', () => process.stdout.write(`started ${sandbox.pid ?? 0}\n`));
  await new Promise(() => undefined);
}

if (process.argv[1] === CONTRACT_CHILD) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
