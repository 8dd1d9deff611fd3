// The price table in corral.yaml (`prices:`): USD per million tokens, keyed by PROVIDER:MODEL or a model glob,
// and the defaults `corral init` writes for well-known models. Edit them freely; a model without a price is
// reported as unknown, never as free.
import { z } from 'zod';

const UsdPerMTok = z.number().nonnegative().max(10_000);

export const Price = z
  .object({
    input: UsdPerMTok.describe('USD per million uncached input tokens'),
    output: UsdPerMTok.describe('USD per million output tokens'),
    cacheRead: UsdPerMTok.optional().describe(
      'USD per million input tokens read from the prompt cache; the input price when absent',
    ),
    cacheWrite: UsdPerMTok.optional().describe(
      'USD per million input tokens written to the prompt cache; the input price when absent',
    ),
    contextWindow: z
      .number()
      .int()
      .min(1000)
      .optional()
      .describe('tokens the model reads at once; conversations are compacted near it (default 128000)'),
  })
  .strict();
export type Price = z.infer<typeof Price>;

export const PriceKey = z
  .string()
  .regex(
    /^[A-Za-z0-9._:/@*-]{1,200}$/,
    'write PROVIDER:MODEL or a model name, where * matches any run of characters',
  )
  .refine((k) => !k.includes('://'), 'a price key names a model, not a URL')
  .describe('PROVIDER:MODEL or MODEL, either may contain * (e.g. claude-sonnet-4-5*)');

export const PriceTable = z
  .record(PriceKey, Price)
  .describe('model prices in USD per million tokens; the most specific matching key wins');
export type PriceTable = z.infer<typeof PriceTable>;

// Anthropic's current models read 200k tokens at once; compaction starts near that, not at the 128k default.
const anthropic = (input: number, output: number): Price => ({
  input,
  output,
  cacheRead: input / 10,
  cacheWrite: input * 1.25,
  contextWindow: 200_000,
});
const openai = (input: number, output: number, cacheRead: number, contextWindow: number): Price => ({
  input,
  output,
  cacheRead,
  contextWindow,
});

/** List prices when this table was written; check your provider's page before relying on them. */
export function defaultPrices(): PriceTable {
  return {
    'claude-opus-4-5*': anthropic(5, 25),
    'claude-opus-4*': anthropic(15, 75),
    'claude-sonnet-4*': anthropic(3, 15),
    'claude-3-7-sonnet*': anthropic(3, 15),
    'claude-haiku-4-5*': anthropic(1, 5),
    'claude-3-5-haiku*': anthropic(0.8, 4),
    'gpt-5*': openai(1.25, 10, 0.125, 400_000),
    'gpt-5-mini*': openai(0.25, 2, 0.025, 400_000),
    'gpt-5-nano*': openai(0.05, 0.4, 0.005, 400_000),
    'gpt-4.1*': openai(2, 8, 0.5, 1_047_576),
    'gpt-4.1-mini*': openai(0.4, 1.6, 0.1, 1_047_576),
    'gpt-4.1-nano*': openai(0.1, 0.4, 0.025, 1_047_576),
    'gpt-4o*': openai(2.5, 10, 1.25, 128_000),
    'gpt-4o-mini*': openai(0.15, 0.6, 0.075, 128_000),
    'o3*': openai(2, 8, 0.5, 200_000),
    'o4-mini*': openai(1.1, 4.4, 0.275, 200_000),
  };
}
