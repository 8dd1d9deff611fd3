// The gateway bench runs end to end on a tiny plan (so `npm run bench` cannot rot unnoticed): both paths
// answer, the 50 MB body arrives whole both ways, and the report prints every row.
import { expect, it } from 'vitest';
import { BIG_BYTES } from '../../bench/gateway-origin.ts';
import { formatGatewayBench } from '../../bench/gateway-summary.ts';
import { runGatewayBench } from '../../bench/gateway.ts';

it('measures direct and gateway requests on both paths', { timeout: 120_000 }, async () => {
  const plan = { latencyRequests: 20, throughputMs: 200, concurrency: 4, bigRepeats: 1 };
  const r = await runGatewayBench({ plan, progress: () => undefined });
  for (const path of [r.proxy, r.model]) {
    expect(path.small.n).toBe(20);
    expect(path.small.gateway.medianMs).toBeGreaterThan(0);
    expect(path.small.gateway.rps).toBeGreaterThan(0);
    expect(path.small.bare.rps).toBeGreaterThan(0);
    expect(path.small.bare.cpuUsPerRequest).toBeGreaterThan(0);
    expect(path.small.gatewayCpuUsPerRequest).toBeGreaterThan(0);
    expect(path.big.bytes).toBeGreaterThanOrEqual(BIG_BYTES);
    expect(path.big.gateway.mbPerS).toBeGreaterThan(0);
  }
  const text = formatGatewayBench(r);
  expect(text).toContain('plain-HTTP forwarding');
  expect(text).toContain('model route');
  expect(text.match(/50 MB streamed/g)).toHaveLength(2);
  expect(text.match(/CPU per request/g)).toHaveLength(2);
});
