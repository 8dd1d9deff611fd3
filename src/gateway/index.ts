// The gateway's public surface: the only way out of a sandbox.
export { createGateway } from './gateway.ts';
export type { AttachOptions, Gateway, GatewayDeps, GatewayEndpoint, ProviderRoute } from './types.ts';
export type { EgressDeps } from './egress.ts';
export { decideEgress } from '../policy/egress.ts';
export type { EgressDecision, EgressRequest } from '../policy/egress.ts';
