// A loaded policy: the operator's rules compiled for decide(), or the reason the file could not be used (and
// then every decision is a denial). Loading from disk is src/config/policy-file.ts.
import type { PolicyFile } from '../config/policy.ts';
import type { Action, OperatorRole } from './actions.ts';
import { ACTIONS } from './actions.ts';

export interface CompiledRule {
  id: string;
  effect: 'allow' | 'deny' | 'ask';
  actions: ReadonlySet<Action> | '*';
  principal: string;
  resource: string;
  reason?: string;
}

export type LoadedPolicy =
  | {
      ok: true;
      source: string;
      rules: readonly CompiledRule[];
      operators: Readonly<Record<string, { role: OperatorRole; tokenSha256: string }>>;
    }
  | { ok: false; source: string; error: string };

/** No rules at all: agents keep exactly their declared rights, admins their defaults. */
export const EMPTY_POLICY: LoadedPolicy = { ok: true, source: '(none)', rules: [], operators: {} };

export function compilePolicy(file: PolicyFile, source: string): LoadedPolicy {
  const rules = file.rules.map((r, i): CompiledRule => {
    const listed = Array.isArray(r.action) ? r.action : [r.action];
    const actions = listed.includes('*') ? '*' : new Set(ACTIONS.filter((a) => listed.some((l) => l === a)));
    return {
      id: r.id ?? `rule#${i + 1}`,
      effect: r.effect,
      actions,
      principal: r.principal,
      resource: r.resource,
      ...(r.reason === undefined ? {} : { reason: r.reason }),
    };
  });
  return { ok: true, source, rules, operators: file.operators };
}
