// Names of agents, providers and secrets become file names and database keys: keep them boring.
import { z } from 'zod';

export const AgentName = z
  .string()
  .regex(
    /^[a-z][a-z0-9-]{0,62}$/,
    'use lowercase letters, digits and dashes, starting with a letter (max 63)',
  )
  .describe('agent name; also its file name agents/<name>.yaml');

export const ProviderName = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]{0,62}$/,
    'use lowercase letters, digits, dashes and underscores, starting with a letter',
  )
  .describe('provider name as used in --model PROVIDER:MODEL');

export const SecretName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'use letters, digits and underscores, not starting with a digit')
  .describe('secret name, e.g. ANTHROPIC_API_KEY');
