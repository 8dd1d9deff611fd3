// Shared set-up of the egress gateway tests: a loopback origin, a policy each test may change, a real gateway.
import { afterEach, beforeEach } from 'vitest';
import { buildPolicy } from '../policy/egress.ts';
import type { EgressPolicy } from '../policy/egress.ts';
import type { Origin } from './egress-test-origin.ts';
import { rawOn, resolve, startOrigin } from './egress-test-origin.ts';
import type { Harness } from './test-harness.ts';
import { startHarness } from './test-harness.ts';

/** Live bindings: importers see the gateway and origin of the running test. */
export let h: Harness;
export let origin: Origin;
let policy: EgressPolicy;

/** The gateway reads the policy per request, so a change applies to the next one. */
export function setPolicy(next: EgressPolicy): void {
  policy = next;
}

/** Swaps in another origin for the rest of the test; the fixture closes whichever is current at the end. */
export async function replaceOrigin(next: Origin): Promise<void> {
  await origin.close();
  origin = next;
}

export function useEgressFixture(): void {
  beforeEach(async () => {
    origin = await startOrigin();
    policy = buildPolicy('none', [`127.0.0.1:${origin.port}`]);
    h = await startHarness({
      egress: { policy: () => policy, resolve, timeouts: { connectMs: 500, idleMs: 1_000 } },
      timeouts: { headersMs: 300, requestMs: 2_000 },
    });
  });
  afterEach(async () => {
    await h.close();
    await origin.close();
  });
}

export const raw = (bytes: string | Buffer[], waitMs?: number): Promise<string> =>
  rawOn(h.endpoint.socketPath, bytes, waitMs);
