// Approvals shown to an agent's admin channel: when an action of (or addressed to) an agent with `adminChannel`
// is held for a human, the complete request is sent to that chat, with how to approve or deny it. Approvals are
// opened by this host (intake, tools, gateway) and by CLI processes alike, so the host looks at the store's
// pending approvals on a short interval rather than relying on an in-process event.
import { parseBindingTarget } from '../../config/channels.ts';
import type { AgentConfig } from '../../config/schema.ts';
import type { OutboxChannel } from '../../channels/types.ts';
import type { ApprovalRow, ApprovalStore } from '../../store/approval-types.ts';
import type { OutboxRow } from '../../store/daemon-types.ts';
import { CorralError, errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import { unsentDelivery } from '../../store/daemon-types.ts';

export const APPROVAL_NOTICE_INTERVAL_MS = 2_000;

/** The agent an approval concerns: the one attempting the action, else the one it is addressed to. */
export function approvalAgent(a: Pick<ApprovalRow, 'principal' | 'resource'>): string | undefined {
  for (const who of [a.principal, a.resource]) {
    const m = /^agent:([^:/]+)$/.exec(who);
    if (m?.[1] !== undefined) return m[1];
  }
  return undefined;
}

/** The notice: everything the action would do (never a summary), and the ways to decide it. */
export function approvalNotice(a: ApprovalRow): string {
  return [
    `Approval needed: ${a.id}`,
    `${a.principal} asks for ${a.action} on ${a.resource}`,
    `why asked: ${a.reason}${a.rule === null ? '' : ` (rule ${a.rule})`}`,
    `expires: ${a.expiresAt}`,
    'request:',
    JSON.stringify(a.payload, null, 2),
    `approve: corral approvals approve ${a.id} [--always]   deny: corral approvals deny ${a.id}`,
    '(or on the dashboard, Approvals)',
  ].join('\n');
}

export interface ApprovalNoticeDeps {
  store: Pick<ApprovalStore, 'listApprovals'>;
  agent: (name: string) => AgentConfig | CorralError;
  channels: () => Record<string, OutboxChannel>;
  log: Logger;
  intervalMs?: number;
}

export function createApprovalNotices(deps: ApprovalNoticeDeps) {
  /** sent (or being sent) during this host's life; a restart sends the still-pending ones once more */
  const noticed = new Set<string>();

  async function notify(a: ApprovalRow, signal: AbortSignal): Promise<void> {
    const name = approvalAgent(a);
    if (name === undefined) return;
    const agent = deps.agent(name);
    if (agent instanceof CorralError || agent.adminChannel === undefined) return;
    const { channel, chat } = parseBindingTarget(agent.adminChannel);
    const adapter = deps.channels()[channel];
    if (adapter === undefined || chat === undefined) {
      deps.log.warn('admin channel of an agent is not running; approval not shown there', {
        agent: name,
        channel,
        approval: a.id,
      });
      return;
    }
    const item: OutboxRow = {
      key: `approval:${a.id}`,
      messageId: a.id,
      channel,
      target: chat,
      payload: { to: { chat }, text: approvalNotice(a) },
      ...unsentDelivery(new Date().toISOString()),
    };
    await adapter.deliver(item, signal);
    deps.log.info('approval shown on the admin channel', { agent: name, channel, approval: a.id });
  }

  /** One look at the pending approvals: each new one is sent; a failed send is tried again next time. */
  async function sweep(signal: AbortSignal): Promise<void> {
    for (const a of deps.store.listApprovals({ status: 'pending', limit: 200 })) {
      if (noticed.has(a.id) || signal.aborted) continue;
      noticed.add(a.id);
      try {
        await notify(a, signal);
      } catch (err) {
        noticed.delete(a.id);
        deps.log.warn('showing an approval on the admin channel failed; trying again', {
          approval: a.id,
          err: errorMessage(err),
        });
      }
    }
  }

  return {
    sweep,
    /** Sweeps now and then every interval until `signal` aborts; sweeps never overlap. */
    start(signal: AbortSignal): void {
      let running = false;
      const tick = (): void => {
        if (running || signal.aborted) return;
        running = true;
        void sweep(signal).finally(() => (running = false));
      };
      const t = setInterval(tick, deps.intervalMs ?? APPROVAL_NOTICE_INTERVAL_MS);
      t.unref();
      signal.addEventListener('abort', () => clearInterval(t), { once: true });
      tick();
    },
  };
}
