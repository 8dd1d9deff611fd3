// The runtime bundle as the sandbox gets it: a CommonJS start file whose only imports of the runtime's own code
// are import()s of the late ES modules beside it, each of which loads and exports what the start file uses.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRuntimeBundle, RUNTIME_FILE } from './runtime-bundle.ts';

describe('runtime bundle', () => {
  let cache: string;
  let dir: string;
  beforeAll(async () => {
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-bundle-'));
    dir = await ensureRuntimeBundle(cache);
  }, 60_000);
  afterAll(() => fs.rmSync(cache, { recursive: true, force: true }));

  it('starts as CommonJS and says what is missing when run without a gateway socket', () => {
    const start = fs.readFileSync(path.join(dir, RUNTIME_FILE), 'utf8');
    expect(RUNTIME_FILE).toMatch(/\.cjs$/);
    expect(start).not.toMatch(/^\s*(import|export)\s/m);
    const r = spawnSync(process.execPath, [path.join(dir, RUNTIME_FILE)], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('CORRAL_GATEWAY_SOCKET is not set');
  });

  it('every import() of its own code names a late module in the bundle, and each loads with its exports', async () => {
    const start = fs.readFileSync(path.join(dir, RUNTIME_FILE), 'utf8');
    const targets = [...start.matchAll(/import\("([^"]+)"\)/g)].map((m) => m[1] ?? '');
    const own = targets.filter((t) => !t.startsWith('node:'));
    expect(own.sort()).toEqual([
      './late-anthropic.mjs',
      './late-frames.mjs',
      './late-loop.mjs',
      './late-openai.mjs',
    ]);
    const exports: Record<string, string> = {
      './late-loop.mjs': 'runTurn',
      './late-frames.mjs': 'HostFrame',
      './late-anthropic.mjs': 'createAnthropicClient',
      './late-openai.mjs': 'createOpenAIClient',
    };
    for (const t of own) {
      const mod: unknown = await import(path.join(dir, t));
      expect(mod, t).toHaveProperty(exports[t] ?? '?');
    }
  });
});
