// Fixed paths and variable names inside every sandbox: the contract between a backend and the runtime.
export const SANDBOX_WORKSPACE = '/workspace';
export const SANDBOX_HOME = '/root';
export const SANDBOX_RUNTIME_DIR = '/opt/corral';
export const SANDBOX_GATEWAY_DIR = '/run/corral';
export const SANDBOX_GATEWAY_SOCKET = `${SANDBOX_GATEWAY_DIR}/gateway.sock`;
/** The memory file the agent may edit; the runtime reads it at the start of every turn. */
export const MEMORY_FILE = `${SANDBOX_WORKSPACE}/MEMORY.md`;
export const ENV_GATEWAY_SOCKET = 'CORRAL_GATEWAY_SOCKET';
/** The system CA bundle path; the host binds its bundle plus the gateway's CA over it in every sandbox. */
export const SANDBOX_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** Gateway route prefix for model calls: /model/<provider>/<path of the provider API>. */
export function modelRoutePrefix(provider: string): string {
  return `/model/${encodeURIComponent(provider)}`;
}

/** Set on responses the gateway itself makes (not the provider's); its value is a `corral_*` error type. */
export const GATEWAY_ERROR_HEADER = 'x-corral-error';
export const GATEWAY_UNREACHABLE = 'corral_upstream_unreachable';
/** The agent's budget is spent: the gateway refused the model call without contacting the provider. */
export const GATEWAY_BUDGET_EXHAUSTED = 'corral_budget_exhausted';
