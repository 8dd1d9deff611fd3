// The governance fields of an agent file (host folders it may mount, whom it may message, who may talk to it)
// and of corral.yaml (the operator's mount allowlist, which no agent file can widen).
import path from 'node:path';
import { z } from 'zod';

const AbsolutePath = z
  .string()
  .min(2)
  .max(4096)
  .refine((p) => path.isAbsolute(p), 'write an absolute path')
  .refine((p) => !p.includes('\0'), 'a path has no NUL byte');

/** Where a mount appears inside the sandbox: under /mnt, one plain name, so it can never cover a system path. */
const SandboxMountPath = z
  .string()
  .regex(/^\/mnt\/[A-Za-z0-9._-]{1,64}$/, 'write /mnt/NAME (letters, digits, . _ -)')
  .refine((p) => !/^\/mnt\/\.\.?$/.test(p), 'not . or ..');

export const AgentMount = z
  .object({
    host: AbsolutePath.describe(
      'host folder, written as its real path (no symlinks, no . or ..); checked against the allowlist',
    ),
    path: SandboxMountPath.describe('where it appears in the sandbox: /mnt/NAME'),
    write: z.boolean().default(false).describe('read-only unless true'),
  })
  .strict();
export type AgentMount = z.infer<typeof AgentMount>;

export const AgentMounts = z
  .array(AgentMount)
  .max(32)
  .default([])
  .refine((ms) => new Set(ms.map((m) => m.path)).size === ms.length, 'two mounts at the same path')
  .describe('host folders the agent asks to see; each must lie under the allowlist in corral.yaml');

export const AgentSenders = z
  .object({
    allow: z
      .array(
        z.string().regex(/^[a-z][a-z0-9_-]*:\S+$/, 'write CHANNEL:ID, e.g. telegram:12345 (globs allowed)'),
      )
      .default([])
      .describe('channel identities that may talk to the agent'),
    unknown: z
      .enum(['deny', 'ask', 'allow'])
      .default('deny')
      .describe('what happens to a message from anyone else: deny, ask an operator, or allow'),
  })
  .strict();

export const AgentMayMessage = z
  .array(z.string().regex(/^(agent|channel):\S+$/, 'write agent:NAME or channel:NAME:TARGET (globs allowed)'))
  .default([])
  .describe('agents and channels the agent may send messages to');

export const MountsConfig = z
  .object({
    allow: z
      .array(AbsolutePath)
      .default([])
      .describe('host folders under which agents may mount (their own files cannot add to this)'),
  })
  .strict();
