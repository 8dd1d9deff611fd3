// Governance from $CORRAL_HOME: the operator's policy (re-read when policy.yaml changes), the approvals service
// on the store, and audit into the store's chain. The gateway and the CLI both build theirs here.
import type { HomePaths } from '../config/home.ts';
import { loadPolicy } from '../config/policy-file.ts';
import type { Store } from '../store/types.ts';
import { createApprovals } from './approvals.ts';
import type { Governance } from './authorize.ts';
import { readWhenChanged } from './file-cache.ts';

export function openGovernance(home: HomePaths, store: Store): Governance {
  const read = readWhenChanged(loadPolicy);
  const policy = () => read(home.policyFile);
  const audit: Governance['audit'] = (e) => void store.appendAudit(e);
  return { policy, audit, approvals: createApprovals({ store, policy, policyFile: home.policyFile, audit }) };
}

/** The gateway's part: the policy over each agent's own rules, and where an `ask` is held. */
export function gatewayGovernance(home: HomePaths, store: Store): Pick<Governance, 'policy' | 'approvals'> {
  const { policy, approvals } = openGovernance(home, store);
  return { policy, approvals };
}
