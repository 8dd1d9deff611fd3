// Bundles src/runtime into one ESM file the sandbox mounts read-only; cached by a hash of its inputs.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { sourceHash } from '../util/source-hash.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INPUT_DIRS = ['src/runtime', 'src/protocol'];
const INPUT_FILES = ['package-lock.json'];
export const RUNTIME_FILE = 'runtime.mjs';

export function runtimeInputsHash(root = REPO_ROOT): string {
  return sourceHash(root, INPUT_DIRS, INPUT_FILES);
}

// One build per directory per process: the daemon starts several sandboxes at once, and two builds of the same
// inputs in one process must not share (and delete) one temporary directory.
const building = new Map<string, Promise<string>>();

/** Returns the directory holding runtime.mjs, building it first when its inputs changed. */
export async function ensureRuntimeBundle(cacheDir: string): Promise<string> {
  const dir = path.join(cacheDir, 'runtime', runtimeInputsHash());
  if (fs.existsSync(path.join(dir, RUNTIME_FILE))) return dir;
  let pending = building.get(dir);
  if (pending === undefined) {
    pending = buildBundle(dir).finally(() => building.delete(dir));
    building.set(dir, pending);
  }
  return pending;
}

async function buildBundle(dir: string): Promise<string> {
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 });
  const tmp = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await build({
    entryPoints: [path.join(REPO_ROOT, 'src/runtime/main.ts')],
    outdir: tmp,
    entryNames: 'runtime',
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    // the model SDKs become chunks the runtime loads after it reports ready
    splitting: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    // CommonJS dependencies inside an ESM bundle still call require().
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  fs.chmodSync(tmp, 0o755);
  for (const f of fs.readdirSync(tmp)) fs.chmodSync(path.join(tmp, f), 0o644);
  try {
    fs.renameSync(tmp, dir);
  } catch (err) {
    // another process built the same inputs first: theirs is as good as ours
    fs.rmSync(tmp, { recursive: true, force: true });
    if (!fs.existsSync(path.join(dir, RUNTIME_FILE))) throw err;
  }
  return dir;
}
