// Entry point inside the sandbox (`node runtime.mjs`): wires the runtime to stdin/stdout and the gateway socket
// named in the environment, and exits 0 once the host shuts it down.
import { ENV_GATEWAY_SOCKET, SANDBOX_WORKSPACE } from '../protocol/sandbox-env.ts';
import { startRuntime } from './runtime.ts';

const gatewaySocket = process.env[ENV_GATEWAY_SOCKET];
if (gatewaySocket === undefined || gatewaySocket === '') {
  process.stderr.write(
    `corral runtime: ${ENV_GATEWAY_SOCKET} is not set; the sandbox backend must pass the gateway socket\n`,
  );
  process.exit(2);
}

const runtime = await startRuntime({
  input: process.stdin,
  output: process.stdout,
  gatewaySocket,
  workspace: SANDBOX_WORKSPACE,
  env: process.env,
});
await runtime.done;
// Exit only after the last frames have left: process.exit would otherwise drop a pending stdout write.
process.stdout.write('', () => process.exit(0));
