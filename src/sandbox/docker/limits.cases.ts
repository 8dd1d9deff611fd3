// Docker: a memory bomb, a process flood and a big file are contained, and reported as the limit they hit.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox, SandboxBackend } from '../types.ts';
import { DEFAULT_LIMITS, MIB } from '../types.ts';
import type { Scratch, TestDaemon } from './test-daemon.ts';
import { createScratch, runToEnd } from './test-daemon.ts';

const T = 60_000;

/** The first line the sandbox prints, or all it printed when it ends before a newline. */
function firstLine(sandbox: Sandbox): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    sandbox.stdout.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('\n')) resolve(text);
    });
    void sandbox.exited.then(() => resolve(text));
  });
}

export function dockerLimitCases(
  daemon: TestDaemon,
  makeBackend: (s: { homeDir: string; runDir: string }) => SandboxBackend,
): void {
  describe('docker: limits', () => {
    let s: Scratch;
    let b: SandboxBackend;
    const running: Sandbox[] = [];
    beforeAll(() => {
      s = createScratch(daemon);
      b = makeBackend({ homeDir: s.root, runDir: s.runDir });
    });
    afterEach(async () => {
      await Promise.all(running.splice(0).map((x) => x.stop()));
    });
    afterAll(async () => {
      await b.resetLayer?.('limits', s.layerDir('limits'));
      s.cleanup();
    });

    it(
      'stops a memory bomb at the memory limit and says so',
      async () => {
        const limits = { ...DEFAULT_LIMITS, memoryBytes: 64 * MIB };
        const sandbox = await b.start(
          s.spec('limits', ['python3', '-c', 'b = bytearray(512 * 1024 * 1024); print("survived")'], {
            limits,
          }),
        );
        running.push(sandbox);
        const r = await runToEnd(sandbox);
        expect(r.out).toBe('');
        expect(r.exit.code).toBe(137);
        expect(r.exit.limitHit).toEqual({
          limit: 'memoryBytes',
          message: 'memory limit 64 MiB reached; the process was stopped',
        });
        expect(sandbox.appliedLimits?.memoryBytes).toMatch(/^cgroup-v[12]$|^runtime$/);
      },
      T,
    );

    it(
      'refuses processes beyond the process limit and reports it',
      async () => {
        const limits = { ...DEFAULT_LIMITS, maxProcesses: 24 };
        const flood = [
          'import subprocess',
          'started, refused = [], 0',
          'for i in range(60):',
          '    try: started.append(subprocess.Popen(["sleep", "30"]))',
          '    except OSError: refused += 1',
          'print(f"started={len(started)} refused={refused}", flush=True)',
          'input()',
        ].join('\n');
        const sandbox = await b.start(s.spec('limits', ['python3', '-c', flood], { limits }));
        running.push(sandbox);
        const line = await firstLine(sandbox);
        const m = /started=(\d+) refused=(\d+)/.exec(line);
        expect(Number(m?.[1])).toBeLessThan(24);
        expect(Number(m?.[2])).toBeGreaterThan(30);
        const hits = (await sandbox.limitEvents?.()) ?? [];
        expect(hits.map((h) => h.limit)).toContain('maxProcesses');
      },
      T,
    );

    it(
      'ends a write at the file size limit',
      async () => {
        const limits = { ...DEFAULT_LIMITS, maxFileBytes: MIB };
        const r = await runToEnd(
          await b.start(
            s.spec(
              'limits',
              ['/bin/sh', '-c', 'head -c 3000000 /dev/zero > /workspace/big; echo "status=$?"'],
              { limits },
            ),
          ),
        );
        expect(r.out).not.toBe('status=0\n');
        expect(fs.statSync(path.join(s.workspace('limits'), 'big')).size).toBeLessThanOrEqual(MIB);
      },
      T,
    );
  });
}
