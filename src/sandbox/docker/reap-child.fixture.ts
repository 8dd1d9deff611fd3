// Test fixture run as a child process: starts Docker sandboxes, says so, then waits to be killed (SIGKILL).
import { z } from 'zod';
import { silentLogger } from '../../util/log.ts';
import type { SandboxSpec } from '../types.ts';
import { createDockerBackend } from './backend.ts';

// the parent wrote these specs itself: checked for shape only
const Args = z.object({
  homeDir: z.string(),
  runDir: z.string(),
  specs: z.array(z.custom<SandboxSpec>((v) => typeof v === 'object' && v !== null)),
  defaultRoot: z.object({ imageDir: z.string(), imageId: z.string() }),
});
const args = Args.parse(JSON.parse(process.argv[2] ?? '{}'));
const backend = createDockerBackend({
  log: silentLogger,
  homeDir: args.homeDir,
  runDir: args.runDir,
  defaultRoot: args.defaultRoot,
});
for (const spec of args.specs) await backend.start(spec);
process.stdout.write('started\n');
setInterval(() => undefined, 60_000);
