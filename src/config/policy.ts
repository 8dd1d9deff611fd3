// Schema of $CORRAL_HOME/policy.yaml: the operator's rules for every privileged action, and the operators
// (API token holders) with their roles. Parsed only here; src/policy/decide.ts evaluates it.
import { z } from 'zod';
import { ACTIONS, OPERATOR_ROLES } from '../policy/actions.ts';

export const EFFECTS = ['allow', 'deny', 'ask'] as const;

/** `*` matches any run of characters (':' and '/' included); everything else matches literally. */
export const RulePattern = z
  .string()
  .min(1, 'a pattern cannot be empty; write * for anything')
  .max(512)
  .regex(/^\S+$/, 'a pattern has no whitespace')
  .describe('glob: * matches any characters');

export const RuleAction = z
  .union([z.enum(ACTIONS), z.literal('*')])
  .describe(`one of ${ACTIONS.join(', ')}, or * for every action`);

export const PolicyRule = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'letters, digits and . _ : -')
      .optional()
      .describe('name decisions and audit entries use; default rule#N (its place in the file)'),
    effect: z.enum(EFFECTS).describe('deny beats allow beats ask; ask holds the action for a human'),
    action: z.union([RuleAction, z.array(RuleAction).min(1)]).describe('the action(s) this rule covers'),
    principal: RulePattern.default('*').describe('who: operator:NAME, user:CHANNEL:ID or agent:NAME (glob)'),
    resource: RulePattern.default('*').describe(
      'what: agent:NAME, channel:NAME:TARGET, HOST:PORT, a host path, secret:NAME (glob)',
    ),
    reason: z.string().max(300).optional().describe('shown with the decision'),
  })
  .strict();
export type PolicyRule = z.infer<typeof PolicyRule>;

export const OperatorEntry = z
  .object({
    role: z.enum(OPERATOR_ROLES).describe('admin: everything an operator may do; viewer: read only'),
    tokenSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'the sha256 of the token, 64 lower-case hex digits')
      .describe('sha256 (hex) of the bearer token this operator presents; the token itself is never stored'),
  })
  .strict();
export type OperatorEntry = z.infer<typeof OperatorEntry>;

export const PolicyFile = z
  .object({
    version: z.literal(1).describe('policy format version'),
    operators: z
      .record(
        z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, - and _'),
        OperatorEntry,
      )
      .default({})
      .describe('API token holders by name'),
    rules: z.array(PolicyRule).default([]).describe('evaluated as docs/governance.md describes'),
  })
  .strict();
export type PolicyFile = z.infer<typeof PolicyFile>;
