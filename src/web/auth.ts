// Who is calling the HTTP API: the api-token holder (an admin operator named `api`) or a named operator from
// policy.yaml, whose token is stored only as its sha256. Viewers may read (GET) and nothing else. The dashboard
// reuses authenticate() and mayMethod() so both front doors answer the same way.
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { OperatorRole, Principal } from '../policy/actions.ts';
import type { LoadedPolicy } from '../policy/policy.ts';
import { HttpError } from './http-util.ts';

export type Operator = Extract<Principal, { kind: 'operator' }>;

/** The bearer token is the API's one built-in credential: its holder is an admin operator named `api`. */
export const API_OPERATOR: Operator = { kind: 'operator', name: 'api', role: 'admin' };

export interface Credentials {
  /** $CORRAL_HOME/api-token */
  apiToken: string;
  /** the operators of policy.yaml; a broken policy admits only the api-token */
  policy?: () => LoadedPolicy;
}

export const sha256Hex = (text: string): string => crypto.createHash('sha256').update(text).digest('hex');

const sameDigest = (a: string, b: string): boolean =>
  crypto.timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));

/** The bearer token of an Authorization header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/**
 * The operator a bearer token belongs to, or undefined. Every candidate is compared (digests, in constant time),
 * so the answer takes the same time whichever operator, if any, the token belongs to.
 */
export function authenticate(header: string | undefined, creds: Credentials): Operator | undefined {
  const given = bearerToken(header);
  if (given === undefined || given.length === 0) return undefined;
  const digest = sha256Hex(given);
  let found: Operator | undefined = sameDigest(digest, sha256Hex(creds.apiToken)) ? API_OPERATOR : undefined;
  const policy = creds.policy?.();
  if (policy?.ok === true)
    for (const [name, op] of Object.entries(policy.operators)) {
      const match = sameDigest(digest, op.tokenSha256);
      if (match && found === undefined) found = { kind: 'operator', name, role: op.role };
    }
  return found;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/** Whether a role may use an HTTP method: admins anything, viewers only reads. */
export function mayMethod(role: OperatorRole, method: string | undefined): boolean {
  return role === 'admin' || READ_METHODS.has(method ?? '');
}

const callers = new WeakMap<IncomingMessage, Operator>();

/** The operator authenticateRequest() found for this request (the API's routes use it as the principal). */
export function callerOf(req: IncomingMessage): Operator | undefined {
  return callers.get(req);
}

/** Authenticates a request and checks its method against the role: 401 without a known token, 403 for a viewer writing. */
export function authenticateRequest(req: IncomingMessage, creds: Credentials): Operator {
  const who = authenticate(req.headers.authorization, creds);
  if (who === undefined)
    throw new HttpError(
      401,
      'unauthorized',
      'missing or wrong bearer token',
      'send Authorization: Bearer <$CORRAL_HOME/api-token> or an operator token (corral operator add)',
      { 'www-authenticate': 'Bearer realm="corral"' },
    );
  if (!mayMethod(who.role, req.method))
    throw new HttpError(
      403,
      'forbidden_role',
      `operator ${who.name} has role ${who.role}, which may only read (GET); ${req.method ?? '?'} needs an admin`,
      'ask an admin, or give the operator the admin role in policy.yaml',
    );
  callers.set(req, who);
  return who;
}
