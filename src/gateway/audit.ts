// Audit entries the gateway records without waiting for them: the write may be batched (see
// src/host/write-batch.ts), so a failure surfaces later and is logged here rather than lost silently.
import { errorMessage } from '../util/errors.ts';
import type { AuditEvent, GatewayDeps } from './types.ts';

export function recordAudit(deps: Pick<GatewayDeps, 'audit' | 'log'>, e: AuditEvent): void {
  const logFailure = (err: unknown): void =>
    deps.log.error('writing an audit entry failed', { action: e.action, error: errorMessage(err) });
  try {
    const pending = deps.audit(e);
    if (pending !== undefined) pending.catch(logFailure);
  } catch (err) {
    logFailure(err);
  }
}
