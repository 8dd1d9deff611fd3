// Bundles src/runtime into the files the sandbox mounts read-only; cached by a hash of its inputs.
// Two builds: the start file is CommonJS (Node's ES module loader costs ~15 ms of every start before any code
// runs); what the runtime loads only after it reports ready (the turn loop and tools, the frame schemas, the model
// SDKs) is ES modules with shared chunks, reached by import() from the start file.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';
import { sourceHash } from '../util/source-hash.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INPUT_DIRS = ['src/runtime', 'src/protocol'];
// this file is the recipe: a changed build must not reuse a bundle made by the old one
const INPUT_FILES = ['package-lock.json', 'src/sandbox/runtime-bundle.ts'];
export const RUNTIME_FILE = 'runtime.cjs';

/** Every module the runtime imports dynamically, by source path, and the ES module file it becomes. */
const LATE_ENTRIES: Record<string, string> = {
  'late-loop': 'src/runtime/loop.ts',
  'late-frames': 'src/protocol/frames.ts',
  'late-anthropic': 'src/runtime/providers/anthropic.ts',
  'late-openai': 'src/runtime/providers/openai.ts',
};

export function runtimeInputsHash(root = REPO_ROOT): string {
  return sourceHash(root, INPUT_DIRS, INPUT_FILES);
}

// One build per directory per process: the daemon starts several sandboxes at once, and two builds of the same
// inputs in one process must not share (and delete) one temporary directory.
const building = new Map<string, Promise<string>>();

/** Returns the directory holding runtime.cjs, building it first when its inputs changed. */
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

/** In the start file, each import() of a late module becomes a real import() of its ES module file. */
function lateImports(root: string): Plugin {
  const byPath = new Map(Object.entries(LATE_ENTRIES).map(([name, src]) => [path.join(root, src), name]));
  return {
    name: 'corral-late-imports',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind !== 'dynamic-import' || args.path.startsWith('node:')) return undefined;
        const name = byPath.get(path.resolve(args.resolveDir, args.path));
        if (name === undefined)
          return {
            errors: [
              {
                text: `${args.path}: a dynamic import the runtime bundle does not know; add it to LATE_ENTRIES`,
              },
            ],
          };
        return { path: `./${name}.mjs`, external: true };
      });
    },
  };
}

async function buildFiles(outdir: string): Promise<void> {
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    outdir,
  } as const;
  await build({
    ...common,
    entryPoints: Object.fromEntries(
      Object.entries(LATE_ENTRIES).map(([name, src]) => [name, path.join(REPO_ROOT, src)]),
    ),
    chunkNames: 'chunk-[hash]',
    outExtension: { '.js': '.mjs' },
    splitting: true,
    format: 'esm',
    // CommonJS dependencies inside an ESM bundle still call require().
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  await build({
    ...common,
    entryPoints: { runtime: path.join(REPO_ROOT, 'src/runtime/main.ts') },
    outExtension: { '.js': '.cjs' },
    format: 'cjs',
    plugins: [lateImports(REPO_ROOT)],
  });
}

async function buildBundle(dir: string): Promise<string> {
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 });
  const tmp = `${dir}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  await buildFiles(tmp);
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
