// The privileged actions and the principals that attempt them: the vocabulary every policy decision uses.

export const ACTIONS = [
  'message.send',
  'agent.message',
  'egress',
  'mount',
  'secret.grant',
  'agent.create',
  'agent.update',
  'agent.delete',
  'task.schedule',
  'env.install',
  'approval.decide',
  'approval.list',
  'audit.read',
] as const;
export type Action = (typeof ACTIONS)[number];

export const OPERATOR_ROLES = ['admin', 'viewer'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** Who attempts an action: an operator (API token holder, or the local CLI user), a channel user, or an agent. */
export type Principal =
  | { kind: 'operator'; name: string; role: OperatorRole }
  | { kind: 'user'; channel: string; id: string }
  | { kind: 'agent'; name: string };
export type PrincipalKind = Principal['kind'];

/** The one text form rules match against: `operator:NAME`, `user:CHANNEL:ID`, `agent:NAME`. */
export function principalText(p: Principal): string {
  switch (p.kind) {
    case 'operator':
      return `operator:${p.name}`;
    case 'user':
      return `user:${p.channel}:${p.id}`;
    case 'agent':
      return `agent:${p.name}`;
  }
}

/** The local CLI user: whoever can run `corral` against $CORRAL_HOME owns its files, hence an admin. */
export const LOCAL_OPERATOR: Principal = { kind: 'operator', name: 'cli', role: 'admin' };

/** Which kinds of principal may attempt each action at all; anything else is refused before any rule. */
export const ACTION_PRINCIPALS: Record<Action, readonly PrincipalKind[]> = {
  'message.send': ['operator', 'user'],
  'agent.message': ['agent'],
  egress: ['agent'],
  mount: ['agent', 'operator'], // the agent at each sandbox start; the operator writing it into the agent's file
  'secret.grant': ['agent', 'operator'],
  'agent.create': ['operator'],
  'agent.update': ['operator'],
  'agent.delete': ['operator'],
  'task.schedule': ['operator', 'agent'],
  'env.install': ['agent'],
  'approval.decide': ['operator'],
  'approval.list': ['operator'],
  'audit.read': ['operator'],
};

/** What a viewer may do: read. */
export const READ_ACTIONS: ReadonlySet<Action> = new Set<Action>(['approval.list', 'audit.read']);

export function isAction(text: string): text is Action {
  return ACTIONS.some((a) => a === text);
}
