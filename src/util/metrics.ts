// A small Prometheus registry: counters, gauges read at scrape time, and histograms, rendered in the text
// exposition format (version 0.0.4). Enough for /metrics without a dependency.
type Labels = Record<string, string>;

const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelText = (l: Labels): string => {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${escape(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
};
const keyOf = (l: Labels): string => JSON.stringify(Object.entries(l).sort());

interface Metric {
  render(): string[];
}

export function createMetrics() {
  const metrics: Metric[] = [];
  const header = (name: string, help: string, type: string): string[] => [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} ${type}`,
  ];

  return {
    counter(name: string, help: string) {
      const values = new Map<string, { labels: Labels; value: number }>();
      metrics.push({
        render: () => [
          ...header(name, help, 'counter'),
          ...[...values.values()].map((v) => `${name}${labelText(v.labels)} ${v.value}`),
        ],
      });
      return {
        inc(labels: Labels = {}, by = 1): void {
          const k = keyOf(labels);
          const v = values.get(k) ?? { labels, value: 0 };
          v.value += by;
          values.set(k, v);
        },
      };
    },
    /** A gauge whose samples are read when scraped. */
    gauge(name: string, help: string, read: () => { labels?: Labels; value: number }[]): void {
      metrics.push({
        render: () => [
          ...header(name, help, 'gauge'),
          ...read().map((s) => `${name}${labelText(s.labels ?? {})} ${s.value}`),
        ],
      });
    },
    histogram(name: string, help: string, buckets: number[]) {
      const series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
      metrics.push({
        render: () => {
          const lines = header(name, help, 'histogram');
          for (const s of series.values()) {
            buckets.forEach((le, i) =>
              lines.push(`${name}_bucket${labelText({ ...s.labels, le: String(le) })} ${s.counts[i] ?? 0}`),
            );
            lines.push(`${name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
            lines.push(`${name}_sum${labelText(s.labels)} ${s.sum}`);
            lines.push(`${name}_count${labelText(s.labels)} ${s.count}`);
          }
          return lines;
        },
      });
      return {
        observe(value: number, labels: Labels = {}): void {
          const k = keyOf(labels);
          const s = series.get(k) ?? { labels, counts: buckets.map(() => 0), sum: 0, count: 0 };
          buckets.forEach((le, i) => {
            if (value <= le) s.counts[i] = (s.counts[i] ?? 0) + 1;
          });
          s.sum += value;
          s.count += 1;
          series.set(k, s);
        },
      };
    },
    render: (): string => metrics.flatMap((m) => m.render()).join('\n') + '\n',
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
