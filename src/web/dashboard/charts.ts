// Server-rendered SVG bar charts (no script, no library): one bar per day, a tooltip per bar, scaled to fit.
import type { Html } from './html.ts';
import { h } from './html.ts';

const W = 320;
const H = 120;
const PAD_BOTTOM = 18;
const PAD_TOP = 14;

export function barChart(opts: {
  title: string;
  labels: string[];
  values: number[];
  format: (n: number) => string;
}): Html {
  const max = Math.max(0, ...opts.values);
  const n = Math.max(1, opts.values.length);
  const slot = W / n;
  const bar = Math.max(1, slot * 0.7);
  const plot = H - PAD_BOTTOM - PAD_TOP;
  const bars = opts.values.map((v, i) => {
    const barH = max === 0 ? 0 : Math.max(v > 0 ? 1 : 0, (v / max) * plot);
    const x = i * slot + (slot - bar) / 2;
    const y = H - PAD_BOTTOM - barH;
    return h`<rect
      class="bar"
      x="${x.toFixed(1)}"
      y="${y.toFixed(1)}"
      width="${bar.toFixed(1)}"
      height="${barH.toFixed(1)}"
      ><title>${opts.labels[i] ?? ''}: ${opts.format(v)}</title></rect
    >`;
  });
  const first = opts.labels[0] ?? '';
  const last = opts.labels.at(-1) ?? '';
  return h`<figure class="chart">
    <figcaption>${opts.title} <span class="muted">max ${opts.format(max)}</span></figcaption>
    <svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${opts.title}" preserveAspectRatio="none">
      <line class="axis" x1="0" y1="${H - PAD_BOTTOM}" x2="${W}" y2="${H - PAD_BOTTOM}" />
      ${bars}
      <text class="tick" x="0" y="${H - 4}">${first}</text>
      <text class="tick" x="${W}" y="${H - 4}" text-anchor="end">${last}</text>
    </svg>
  </figure>`;
}
