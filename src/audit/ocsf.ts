// Audit entries as OCSF 1.1 events for a SIEM. egress.* map to Network Activity (class 4001, category 4);
// everything else to API Activity (class 6003, category 6), with the corral action as api.operation. The whole
// entry (seq, hashes, detail) rides along in `unmapped`, so nothing recorded is lost in translation.
import type { ChainRecord } from './chain.ts';

export const OCSF_VERSION = '1.1.0';

/** API Activity activity_id: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other. */
function apiActivity(action: string): { id: number; name: string } {
  const verb = action.split('.').pop() ?? '';
  if (/^(create|add|set|grant|request|snapshot|received)$/.test(verb)) return { id: 1, name: 'Create' };
  if (/^(read|list|show|verify|export)$/.test(verb)) return { id: 2, name: 'Read' };
  if (/^(update|change|approve|deny|decide|restore|reset|done|failed|expire|revoke|call)$/.test(verb))
    return { id: 3, name: 'Update' };
  if (/^(delete|rm|remove)$/.test(verb)) return { id: 4, name: 'Delete' };
  return { id: 99, name: 'Other' };
}

const FAILED = /(deny|denied|failed|rejected|refused|expire|broken|sentinel_elsewhere)/;

function hostPort(subject: string): { hostname: string; port?: number } {
  const m = /^(.*):(\d{1,5})$/.exec(subject);
  return m?.[1] !== undefined
    ? { hostname: m[1].replace(/^\[|\]$/g, ''), port: Number(m[2]) }
    : { hostname: subject };
}

export function toOcsf(e: ChainRecord, product: { version: string }): Record<string, unknown> {
  const network = e.action.startsWith('egress.');
  const failed = FAILED.test(e.action);
  const activity = network
    ? e.action === 'egress.allow'
      ? { id: 1, name: 'Open' }
      : { id: 5, name: 'Refuse' }
    : apiActivity(e.action);
  const classUid = network ? 4001 : 6003;
  const base = {
    time: Date.parse(e.at),
    severity_id: failed ? 3 : 1,
    severity: failed ? 'Medium' : 'Informational',
    status_id: failed ? 2 : 1,
    status: failed ? 'Failure' : 'Success',
    category_uid: network ? 4 : 6,
    category_name: network ? 'Network Activity' : 'Application Activity',
    class_uid: classUid,
    class_name: network ? 'Network Activity' : 'API Activity',
    activity_id: activity.id,
    activity_name: activity.name,
    type_uid: classUid * 100 + activity.id,
    message: `${e.actor} ${e.action} ${e.subject}`,
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'corral', vendor_name: 'corral', version: product.version },
      uid: e.hash,
      sequence: e.seq,
      log_name: 'audit',
    },
    actor: { user: { name: e.actor, type: e.actor.split(':')[0] ?? e.actor } },
    unmapped: { seq: e.seq, prev_hash: e.prevHash, hash: e.hash, action: e.action, detail: e.detail },
  };
  return network
    ? { ...base, dst_endpoint: hostPort(e.subject) }
    : { ...base, api: { operation: e.action }, resources: [{ name: e.subject }] };
}
