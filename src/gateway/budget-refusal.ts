// The answer to a model call over budget, in the provider's own error format so its SDK surfaces the message,
// marked as the gateway's own with x-corral-error; x-should-retry tells the official SDKs not to retry it.
import type { ServerResponse } from 'node:http';
import type { ProviderKind } from '../protocol/frames.ts';
import { GATEWAY_BUDGET_EXHAUSTED, GATEWAY_ERROR_HEADER } from '../protocol/sandbox-env.ts';

/** 429 as providers answer an exhausted quota; the SDKs' retry policy is overridden by the header below. */
export const BUDGET_EXHAUSTED_STATUS = 429;

function errorBody(kind: ProviderKind, message: string): unknown {
  const type = GATEWAY_BUDGET_EXHAUSTED;
  switch (kind) {
    case 'anthropic':
      return { type: 'error', error: { type, message } };
    case 'openai':
      return { error: { message, type, param: null, code: type } };
  }
}

export function refuseOverBudget(res: ServerResponse, kind: ProviderKind, message: string): void {
  const body = JSON.stringify(errorBody(kind, message));
  res.writeHead(BUDGET_EXHAUSTED_STATUS, {
    'content-type': 'application/json',
    [GATEWAY_ERROR_HEADER]: GATEWAY_BUDGET_EXHAUSTED,
    'x-should-retry': 'false',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
