// The progress display: a rewritten line on a terminal, a line per step otherwise, NDJSON for machines.
import { describe, expect, it } from 'vitest';
import { createProgressDisplay, formatBytes, formatElapsed } from './display.ts';
import type { ImageProgress } from './types.ts';

const events: ImageProgress[] = [
  { type: 'build', imageId: 'corral-base-0123456789ab', tool: 'mmdebstrap', mode: 'root' },
  { type: 'step', step: 'resolving', bytes: 0, elapsedMs: 0 },
  { type: 'bytes', step: 'resolving', bytes: 3 * 1024 * 1024, elapsedMs: 1_000 },
  { type: 'step', step: 'downloading', bytes: 60 * 1024 * 1024, elapsedMs: 3_000 },
  {
    type: 'done',
    imageId: 'corral-base-0123456789ab',
    built: true,
    sizeBytes: 320 * 1024 * 1024,
    elapsedMs: 61_000,
  },
];

function render(mode: 'tty' | 'lines' | 'json'): string {
  let out = '';
  const show = createProgressDisplay((s) => (out += s), mode);
  events.forEach((e) => show(e));
  return out;
}

describe('image progress display', () => {
  it('prints one line per step when stderr is not a terminal', () => {
    expect(render('lines').split('\n')).toEqual([
      'building base image corral-base-0123456789ab (mmdebstrap, --mode=root); about a minute',
      'image: resolving        0 KiB  0:00',
      'image: downloading   60.0 MiB  0:03',
      'built corral-base-0123456789ab (320.0 MiB) in 1:01',
      '',
    ]);
  });

  it('rewrites one line on a terminal, bytes included', () => {
    const out = render('tty');
    expect(out).toContain('\r\x1b[K');
    expect(out).toContain('resolving      3.0 MiB  0:01');
    expect(out.endsWith('\r\x1b[Kbuilt corral-base-0123456789ab (320.0 MiB) in 1:01\n')).toBe(true);
  });

  it('prints every event as one JSON line with --json', () => {
    const lines = render('json').trim().split('\n');
    const parsed = lines.map((l): unknown => JSON.parse(l));
    expect(parsed).toEqual(events);
  });

  it('formats sizes and times', () => {
    expect(formatBytes(512)).toBe('1 KiB');
    expect(formatBytes(5 * 1024 * 1024 * 1024)).toBe('5.00 GiB');
    expect(formatElapsed(125_400)).toBe('2:05');
  });
});
