// What the gateway bench reports: per path, added latency (median, p99) and throughput for small requests, and
// the 50 MB streamed body, each next to the direct baseline measured in the same run, and as ratios to it.
import { z } from 'zod';
import { quantile } from './stats.ts';

const Big = z.object({ ms: z.array(z.number()), bytes: z.number() });
const Route = z.object({
  latencyMs: z.object({ direct: z.array(z.number()), gateway: z.array(z.number()) }),
  rps: z.object({ direct: z.number(), bare: z.number(), gateway: z.number() }),
  big: z.object({ direct: Big, gateway: Big }),
});
export const LoadResult = z.object({ proxy: Route, model: Route });

export interface RouteSummary {
  small: {
    n: number;
    direct: { medianMs: number; p99Ms: number; rps: number };
    gateway: { medianMs: number; p99Ms: number; rps: number };
    addedMedianMs: number;
    addedP99Ms: number;
    medianRatio: number;
    rpsRatio: number;
    /** the bare Node proxy (bench/bare-proxy.ts): the floor for any proxy written in Node on this machine */
    bare: { rps: number; cpuUsPerRequest: number };
    /** CPU time the gateway's process spent per request under load */
    gatewayCpuUsPerRequest: number;
    /** gateway requests per second as a share of the bare proxy's, measured in the same run */
    rpsOfBare: number;
  };
  big: {
    bytes: number;
    direct: { medianMs: number; mbPerS: number };
    gateway: { medianMs: number; mbPerS: number };
    addedMs: number;
    ratio: number;
  };
}
export interface GatewayBenchResult {
  concurrency: number;
  proxy: RouteSummary;
  model: RouteSummary;
}

function route(r: z.infer<typeof Route>, cpu: { bare: number; gateway: number }): RouteSummary {
  const lat = (s: number[]) => ({ medianMs: quantile(s, 0.5), p99Ms: quantile(s, 0.99) });
  const d = { ...lat(r.latencyMs.direct), rps: r.rps.direct };
  const g = { ...lat(r.latencyMs.gateway), rps: r.rps.gateway };
  const mb = (ms: number, bytes: number) => bytes / (1024 * 1024) / (ms / 1000);
  const bd = quantile(r.big.direct.ms, 0.5);
  const bg = quantile(r.big.gateway.ms, 0.5);
  return {
    small: {
      n: r.latencyMs.direct.length,
      direct: d,
      gateway: g,
      addedMedianMs: g.medianMs - d.medianMs,
      addedP99Ms: g.p99Ms - d.p99Ms,
      medianRatio: g.medianMs / d.medianMs,
      rpsRatio: g.rps / d.rps,
      bare: { rps: r.rps.bare, cpuUsPerRequest: cpu.bare },
      gatewayCpuUsPerRequest: cpu.gateway,
      rpsOfBare: g.rps / r.rps.bare,
    },
    big: {
      bytes: r.big.gateway.bytes,
      direct: { medianMs: bd, mbPerS: mb(bd, r.big.direct.bytes) },
      gateway: { medianMs: bg, mbPerS: mb(bg, r.big.gateway.bytes) },
      addedMs: bg - bd,
      ratio: bg / bd,
    },
  };
}

export function summarise(
  r: z.infer<typeof LoadResult>,
  concurrency: number,
  cpuUsPerRequest: Record<string, number>,
): GatewayBenchResult {
  const cpu = (p: string) => ({
    bare: cpuUsPerRequest[`${p}.bare`] ?? NaN,
    gateway: cpuUsPerRequest[`${p}.gateway`] ?? NaN,
  });
  return { concurrency, proxy: route(r.proxy, cpu('proxy')), model: route(r.model, cpu('model')) };
}

export function formatGatewayBench(r: GatewayBenchResult): string {
  const f = (x: number, d = 2) => x.toFixed(d).padStart(8);
  const block = (title: string, s: RouteSummary): string =>
    `${title}\n` +
    `  small, median     direct ${f(s.small.direct.medianMs)} ms  gateway ${f(s.small.gateway.medianMs)} ms  added ${f(s.small.addedMedianMs)} ms  ×${s.small.medianRatio.toFixed(2)}\n` +
    `  small, p99        direct ${f(s.small.direct.p99Ms)} ms  gateway ${f(s.small.gateway.p99Ms)} ms  added ${f(s.small.addedP99Ms)} ms\n` +
    `  small, ${String(r.concurrency).padStart(2)} in flight direct ${f(s.small.direct.rps, 0)} /s  gateway ${f(s.small.gateway.rps, 0)} /s  ×${s.small.rpsRatio.toFixed(2)}\n` +
    `    bare Node proxy  ${f(s.small.bare.rps, 0)} /s  gateway at ×${s.small.rpsOfBare.toFixed(2)} of it\n` +
    `    CPU per request  bare proxy ${f(s.small.bare.cpuUsPerRequest, 0)} µs  gateway ${f(s.small.gatewayCpuUsPerRequest, 0)} µs  ×${(s.small.gatewayCpuUsPerRequest / s.small.bare.cpuUsPerRequest).toFixed(2)}\n` +
    `  50 MB streamed    direct ${f(s.big.direct.medianMs, 1)} ms  gateway ${f(s.big.gateway.medianMs, 1)} ms  added ${f(s.big.addedMs, 1)} ms  ×${s.big.ratio.toFixed(2)} (${s.big.gateway.mbPerS.toFixed(0)} MB/s)\n`;
  return (
    block('gateway, plain-HTTP forwarding (loopback origin, explicit IP:port rule)', r.proxy) +
    block('gateway, model route (key injection, metering, usage and audit write, budget check)', r.model) +
    'goal: under 1 ms added at the median, at least 5,000 small requests per second through the gateway\n' +
    '(the bare Node proxy is the ceiling for any proxy written in Node; see docs/gateway-performance.md)\n'
  );
}
