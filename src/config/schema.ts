// Schemas for corral.yaml and agents/<name>.yaml: the only place raw configuration is parsed.
import { z } from 'zod';
import { ToolName } from '../protocol/frames.ts';
import { AdminChannel, AgentChannels } from './channels.ts';
import { EgressAllow, EgressPresetName } from './egress.ts';
import { AgentMayMessage, AgentMounts, AgentSenders, MountsConfig } from './governance.ts';
import { AgentName, ProviderName, SecretName } from './names.ts';
import { defaultPrices, PriceTable } from './prices.ts';
import { AgentSchedules } from './schedules.ts';
export { AgentName };

export const DEFAULT_MODEL = 'anthropic:claude-sonnet-4-5';

const HttpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'base URL must start with http:// or https://')
  .refine((u) => !/^https?:\/\/[^/]*@/.test(u), 'base URL must not contain credentials; use --key-secret');

export const ProviderConfig = z
  .object({
    kind: z
      .enum(['anthropic', 'openai'])
      .describe('wire protocol: Anthropic Messages or OpenAI chat completions'),
    baseUrl: HttpUrl.describe('API base URL as the official SDK expects it (OpenAI-style URLs end in /v1)'),
    keySecret: SecretName.describe('name of the corral secret holding the API key'),
  })
  .strict();
export type ProviderConfig = z.infer<typeof ProviderConfig>;

export const ModelSpec = z
  .string()
  .regex(/^[a-z][a-z0-9_-]*:.+$/, 'write the model as PROVIDER:MODEL, e.g. anthropic:claude-sonnet-4-5')
  .describe('PROVIDER:MODEL');

export const BackendName = z
  .enum(['bwrap', 'runc', 'gvisor', 'docker', 'microvm'])
  .describe('sandbox backend: bwrap, runc, gvisor, docker or microvm');

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A byte size written as 512MiB, 2G, 1.5GiB or a plain number of bytes. */
export const ByteSize = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(
      /^\s*\d+(\.\d+)?\s*([kKmMgGtT](i?[bB])?|[bB])?\s*$/,
      'write a size such as 512MiB, 2GiB or 1048576',
    )
    .transform((s) => {
      const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)/.exec(s);
      return Math.round(Number(m?.[1] ?? '0') * (SIZE_UNITS[(m?.[2] ?? '').toLowerCase()] ?? 1));
    }),
]);

/** Per-agent hard limits; anything left out takes the default (see docs/isolation.md). */
export const AgentLimits = z
  .object({
    memory: ByteSize.optional().describe('memory of everything in the sandbox together (default 512MiB)'),
    cpus: z.number().positive().max(256).optional().describe('CPU cores the sandbox may use (default 1)'),
    processes: z
      .number()
      .int()
      .min(16)
      .max(65_536)
      .optional()
      .describe('processes and threads (default 512)'),
    disk: ByteSize.optional().describe('workspace plus writable environment on disk (default 4GiB)'),
    turnSeconds: z.number().int().positive().optional().describe('wall-clock seconds per turn (default 600)'),
    toolSeconds: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('wall-clock seconds per tool call (default 120)'),
  })
  .strict();
export type AgentLimits = z.infer<typeof AgentLimits>;

export const DockerConfig = z
  .object({
    runtime: z
      .enum(['runc', 'runsc'])
      .default('runc')
      .describe('OCI runtime dockerd runs containers with; runsc (gVisor) must be registered with dockerd'),
  })
  .strict();

export const GvisorConfig = z
  .object({
    platform: z
      .enum(['systrap', 'ptrace', 'kvm'])
      .optional()
      .describe('gVisor platform; unset: systrap where runsc has it, else ptrace (kvm only when set here)'),
  })
  .strict();

export const MicrovmConfig = z
  .object({
    kernel: z
      .string()
      .optional()
      .describe(
        "guest kernel: a vmlinuz (its modules in /lib/modules/VERSION) or an unpacked kernel package; default Debian's cloud kernel, fetched on first use",
      ),
    accel: z
      .enum(['auto', 'kvm', 'tcg'])
      .default('auto')
      .describe('auto: KVM when a guest boots under it, else TCG emulation (for testing, slow)'),
    hypervisor: z
      .enum(['qemu', 'firecracker'])
      .default('qemu')
      .describe('QEMU (microvm machine); Firecracker is recognised but not driven yet'),
  })
  .strict();

export const CorralConfig = z
  .object({
    version: z.literal(1).describe('config format version'),
    defaults: z
      .object({
        model: ModelSpec.default(DEFAULT_MODEL),
        backend: BackendName.default('bwrap'),
      })
      .strict()
      .prefault({}),
    providers: z.record(ProviderName, ProviderConfig).describe('model endpoints by name'),
    // Files written before prices existed stay valid; their models are priced as unknown until added.
    prices: PriceTable.default({}),
    docker: DockerConfig.optional().describe('settings of the docker sandbox backend'),
    gvisor: GvisorConfig.optional().describe('settings of the gvisor sandbox backend'),
    mounts: MountsConfig.optional().describe("the operator's allowlist of host folders agents may mount"),
    microvm: MicrovmConfig.optional().describe('settings of the microvm sandbox backend'),
    sandboxes: z
      .object({
        maxStarting: z
          .number()
          .int()
          .min(1)
          .max(256)
          .optional()
          .describe(
            'sandboxes of one corral process in their start phase at once; the rest wait (default: 4 per CPU core)',
          ),
        idleLayerSeconds: z
          .number()
          .int()
          .min(0)
          .max(86_400)
          .optional()
          .describe(
            "seconds an agent's environment stays mounted after its last sandbox, so its next one starts sooner; 0: unmount at once (default 600)",
          ),
      })
      .strict()
      .optional()
      .describe('how sandboxes are started'),
    compaction: z
      .object({
        threshold: z
          .number()
          .min(0.2)
          .max(0.95)
          .describe("share of the model's context window at which older turns are summarised (default 0.75)"),
      })
      .strict()
      .optional(),
  })
  .strict();
export type CorralConfig = z.infer<typeof CorralConfig>;

/** Every tool the runtime has (src/protocol/frames.ts): one list, so a new tool cannot be left out of it. */
export const DEFAULT_TOOLS: z.infer<typeof ToolName>[] = [...ToolName.options];

/** Days and months are UTC calendar days and months. */
export const AgentBudget = z
  .object({
    usdPerDay: z.number().positive().optional().describe('USD per UTC day, at the prices in corral.yaml'),
    usdPerMonth: z.number().positive().optional().describe('USD per UTC calendar month'),
    tokensPerDay: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('tokens per UTC day: input, output and cache reads and writes together'),
  })
  .strict();
export type AgentBudget = z.infer<typeof AgentBudget>;

export const AgentConfig = z
  .object({
    name: AgentName,
    model: ModelSpec,
    backend: BackendName.default('bwrap'),
    instructions: z
      .string()
      .default(
        'You are a helpful agent. You work inside a sandbox; your files are in /workspace. ' +
          'Use your tools to act, and keep notes worth remembering in /workspace/MEMORY.md.',
      )
      .describe('system instructions for every turn'),
    tools: z.array(ToolName).default(DEFAULT_TOOLS).describe('tools the agent may use'),
    maxSteps: z.number().int().min(1).max(200).default(25).describe('model calls allowed per turn'),
    maxTokens: z.number().int().min(1).max(200_000).default(4096).describe('output tokens per model call'),
    egress: EgressPresetName.default('none'),
    allow: EgressAllow,
    budget: AgentBudget.optional().describe('spending limits; model calls are refused once one is reached'),
    grants: z
      .array(SecretName)
      .default([])
      .describe('secrets the agent may use: it sees a sentinel, the gateway sends the value to bound hosts'),
    limits: AgentLimits.prefault({}).describe('hard limits on memory, CPU, processes, disk and time'),
    mounts: AgentMounts,
    mayMessage: AgentMayMessage,
    senders: AgentSenders.prefault({}).describe('who may talk to the agent over channels'),
    channels: AgentChannels,
    adminChannel: AdminChannel.optional(),
    schedules: AgentSchedules,
    paused: z
      .boolean()
      .default(false)
      .describe('a paused agent takes messages but runs none: they wait in its queue until it is resumed'),
  })
  .strict();
export type AgentConfig = z.infer<typeof AgentConfig>;

export function defaultConfig(): CorralConfig {
  return {
    version: 1,
    defaults: { model: DEFAULT_MODEL, backend: 'bwrap' },
    providers: {
      anthropic: { kind: 'anthropic', baseUrl: 'https://api.anthropic.com', keySecret: 'ANTHROPIC_API_KEY' },
      openai: { kind: 'openai', baseUrl: 'https://api.openai.com/v1', keySecret: 'OPENAI_API_KEY' },
    },
    prices: defaultPrices(),
  };
}

export function splitModel(spec: string): { provider: string; model: string } {
  const i = spec.indexOf(':');
  return { provider: spec.slice(0, i), model: spec.slice(i + 1) };
}
