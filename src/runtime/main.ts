// Entry point inside the sandbox (`node runtime.cjs`): wires the runtime to stdin/stdout and the gateway socket
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

// No top-level await: this file is the CommonJS start file of the bundle (see src/sandbox/runtime-bundle.ts).
async function main(socket: string): Promise<void> {
  const runtime = await startRuntime({
    // a getter: the runtime reads its input only once ready, and opening process.stdin before cost ~1 ms
    get input() {
      return process.stdin;
    },
    output: process.stdout,
    gatewaySocket: socket,
    workspace: SANDBOX_WORKSPACE,
    env: process.env,
  });
  await runtime.done;
  // Exit only after the last frames have left: process.exit would otherwise drop a pending stdout write.
  process.stdout.write('', () => process.exit(0));
}

main(gatewaySocket).catch((err: unknown) => {
  process.stderr.write(
    `corral runtime: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
