// The fleet benchmark's baseline: N raw starts of /bin/true at once with the backend's own runtime (bwrap, runc
// run, runsc run, Docker create+start+wait, a bare microVM boot), each timed from the common start.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TRIVIAL_SANDBOX_ARGS } from '../src/sandbox/bwrap/probe.ts';
import { baseImageRef, importBaseImage } from '../src/sandbox/docker/image.ts';
import type { BenchHome } from './backend-harness.ts';
import { rawRun as dockerRawRun } from './docker.ts';
import { benchGuest, benchKernel, bootToInit } from './microvm.ts';
import { rawBundle, rawRuntime, run } from './oci.ts';

const BOOT_TIMEOUT_MS = 300_000;

export type FleetBackend = 'bwrap' | 'runc' | 'gvisor' | 'docker' | 'microvm';

export interface AtOnce {
  /** from the common start until the last one ended, succeeded or not */
  wallMs: number;
  /** each successful start's time from the common start */
  eachMs: number[];
  /** why the others failed, each distinct reason once with how many */
  failures: { count: number; reason: string }[];
}

/** Runs all of `starts` from one common moment and times each; failures are counted, not thrown. */
export async function atOnce(
  starts: (() => Promise<unknown>)[],
  onDone?: (k: number) => void,
): Promise<AtOnce> {
  let k = 0;
  const t0 = performance.now();
  const settled = await Promise.allSettled(
    starts.map(async (start) => {
      await start();
      onDone?.(++k);
      return performance.now() - t0;
    }),
  );
  const wallMs = performance.now() - t0;
  const reasons = new Map<string, number>();
  for (const s of settled) {
    if (s.status === 'rejected') {
      const reason = s.reason instanceof Error ? s.reason.message : String(s.reason);
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
  }
  return {
    wallMs,
    eachMs: settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])),
    failures: [...reasons].map(([reason, count]) => ({ count, reason })),
  };
}

/** What the raw baseline runs, for the report. */
export function rawLabel(backend: FleetBackend): string {
  switch (backend) {
    case 'bwrap':
      return 'bwrap … /bin/true';
    case 'runc':
      return 'runc run /bin/true';
    case 'gvisor':
      return 'runsc run /bin/true';
    case 'docker':
      return 'docker create+start+wait /bin/true';
    case 'microvm':
      return 'QEMU boot to guest init';
  }
}

/** The N raw starts, ready to be run at once (set-up such as bundles and image import done beforehand). */
export async function rawStarts(
  b: BenchHome,
  backend: FleetBackend,
  n: number,
): Promise<{ starts: (() => Promise<unknown>)[]; cleanup: () => void }> {
  const none = (): void => undefined;
  const times = <T>(f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));
  switch (backend) {
    case 'bwrap':
      return { starts: times(() => () => run(['bwrap', ...TRIVIAL_SANDBOX_ARGS])), cleanup: none };
    case 'runc':
    case 'gvisor': {
      const image = b.image;
      if (image === undefined) throw new Error('no base image');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-bench-fleet-raw-'));
      const runtime = await rawRuntime(b, backend, path.join(dir, 'state'));
      const ids = times((i) => `bench-fleet-${process.pid}-${i}`);
      for (const id of ids) rawBundle(path.join(dir, id), image.rootfs, ['/bin/true'], id);
      return {
        starts: ids.map((id) => () => run([...runtime, 'run', '--bundle', path.join(dir, id), id])),
        cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
      };
    }
    case 'docker': {
      const api = b.docker;
      const image = b.image;
      if (api === undefined || image === undefined) throw new Error('no Docker API or base image');
      await importBaseImage(api, { imageDir: image.rootfs, imageId: image.id }, { log: b.log });
      const ref = baseImageRef(image.id);
      return { starts: times(() => () => dockerRawRun(api, ref, ['/bin/true'], undefined)), cleanup: none };
    }
    case 'microvm': {
      const guest = await benchGuest(b, benchKernel());
      const boot = async (): Promise<void> => void (await bootToInit(guest, BOOT_TIMEOUT_MS));
      return { starts: times(() => boot), cleanup: none };
    }
  }
}
