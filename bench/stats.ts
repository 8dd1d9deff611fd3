// Median, p95 and other quantiles of a sample, in milliseconds, and the row the benchmarks print for one.
export interface Stats {
  n: number;
  median: number;
  p95: number;
}

/** The nearest-rank quantile q (0..1) of the samples; NaN for none. */
export function quantile(samples: readonly number[], q: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? NaN;
}

export function stats(samples: readonly number[]): Stats {
  return { n: samples.length, median: quantile(samples, 0.5), p95: quantile(samples, 0.95) };
}

export async function timeIt(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * `name   median 12.3 ms  p95 14.0 ms  ×1.20 raw`: the label padded to `width`, the ratio to `base`'s median
 * when one is given (`raw` unless `baseLabel` says otherwise).
 */
export function statRow(
  name: string,
  s: Stats,
  opts: { width: number; digits?: number; base?: Stats; baseLabel?: string },
): string {
  const d = opts.digits ?? 1;
  const ratio =
    opts.base === undefined
      ? ''
      : `  ×${(s.median / opts.base.median).toFixed(2)} ${opts.baseLabel ?? 'raw'}`;
  return `${name.padEnd(opts.width)} median ${s.median.toFixed(d).padStart(7)} ms  p95 ${s.p95.toFixed(d).padStart(7)} ms${ratio}\n`;
}

/** The goal for start → runtime ready: 1.2 × the raw runtime's start plus Node's own start inside it. */
export function goalLine(rawTrue: Stats, rawNode: Stats): string {
  return `goal: ready ≤ 1.2 × raw + Node's own start = ${(1.2 * rawTrue.median + (rawNode.median - rawTrue.median)).toFixed(1)} ms\n`;
}
