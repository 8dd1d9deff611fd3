// Prices model usage with the table from corral.yaml. A key matches PROVIDER:MODEL or MODEL, `*` matching any
// run of characters; an exact key beats a glob, and a glob with more literal characters beats a shorter one.
import type { Price, PriceTable } from '../config/prices.ts';
import type { Usage } from '../protocol/transcript.ts';

const PER_MILLION = 1_000_000;

function globMatches(pattern: string, text: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === text;
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (!text.startsWith(first) || text.length < first.length + last.length || !text.endsWith(last))
    return false;
  let pos = first.length;
  const end = text.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    const found = text.indexOf(middle, pos);
    if (found < 0 || found + middle.length > end) return false;
    pos = found + middle.length;
  }
  return true;
}

/** Higher is more specific: exact over glob, then more literal characters, then qualified by provider. */
function score(key: string, qualified: boolean): number {
  const exact = key.includes('*') ? 0 : 1;
  return exact * 1_000_000 + key.replaceAll('*', '').length * 2 + (qualified ? 1 : 0);
}

// Budgets price every model call against the table; a table is replaced (never changed) when the config is
// re-read, so the answers for one table object can be kept with it.
const MEMO_LIMIT = 1024;
const found = new WeakMap<PriceTable, Map<string, Price | undefined>>();

/** The price of `provider:model`, or undefined when no key matches it. */
export function findPrice(prices: PriceTable, provider: string, model: string): Price | undefined {
  const full = `${provider}:${model}`;
  let memo = found.get(prices);
  if (memo === undefined) found.set(prices, (memo = new Map<string, Price | undefined>()));
  if (memo.has(full)) return memo.get(full);
  const price = searchPrice(prices, provider, model);
  // model names come from the agent's requests: never let them grow this without bound
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(full, price);
  return price;
}

function searchPrice(prices: PriceTable, provider: string, model: string): Price | undefined {
  const full = `${provider}:${model}`;
  let best: { price: Price; score: number } | undefined;
  for (const [key, price] of Object.entries(prices)) {
    const s = globMatches(key, full) ? score(key, true) : globMatches(key, model) ? score(key, false) : -1;
    if (s >= 0 && (best === undefined || s > best.score)) best = { price, score: s };
  }
  return best?.price;
}

export function costUsd(price: Price, u: Usage): number {
  return (
    (u.inputTokens * price.input +
      u.outputTokens * price.output +
      u.cacheReadTokens * (price.cacheRead ?? price.input) +
      u.cacheWriteTokens * (price.cacheWrite ?? price.input)) /
    PER_MILLION
  );
}

/** Undefined when the model has no price: unknown, never zero. */
export function priceUsage(
  prices: PriceTable,
  provider: string,
  model: string,
  u: Usage,
): number | undefined {
  const price = findPrice(prices, provider, model);
  return price === undefined ? undefined : costUsd(price, u);
}

export function totalTokens(u: Usage): number {
  return u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheWriteTokens;
}

/** `$4.02`; amounts under a cent keep four decimals so small runs do not read as free. */
export function formatUsd(usd: number | undefined): string {
  if (usd === undefined) return '?';
  return `$${usd === 0 || usd >= 0.01 ? usd.toFixed(2) : usd.toFixed(4)}`;
}
