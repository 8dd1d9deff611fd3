// The egress fields of an agent file: a preset and allow patterns, each pattern checked at load time by the
// same parser the gateway uses, so a bad pattern is reported with its field and line, not at the first request.
import { z } from 'zod';
import { patternProblem } from '../policy/egress-pattern.ts';
import { EGRESS_PRESETS } from '../policy/egress.ts';

export const EgressPresetName = z
  .enum(EGRESS_PRESETS)
  .describe(
    'none: only the rules in allow; packages: Debian, npm and PyPI mirrors; web: any public host on 80/443',
  );

export const EgressPattern = z
  .string()
  .superRefine((source, ctx) => {
    const problem = patternProblem(source);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe('host, *.host, host:port, IP[:port], [IPv6]:port, or METHOD host/path-glob');

export const EgressAllow = z
  .array(EgressPattern)
  .default([])
  .describe('destinations the agent may reach through the gateway, on top of its egress preset');
