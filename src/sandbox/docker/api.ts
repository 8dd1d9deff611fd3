// The dozen Docker Engine endpoints the backend uses, with the answers parsed (zod) down to the fields it reads.
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { ContainerCreateBody, ExecCreateBody } from './create-body.ts';
import type { DockerHttp } from './http.ts';
import { DockerApiError } from './http.ts';
import { CorralError } from '../../util/errors.ts';

const Version = z.object({ Version: z.string(), ApiVersion: z.string() });
const Info = z.object({
  ServerVersion: z.string().default(''),
  SecurityOptions: z.array(z.string()).nullish(),
  Runtimes: z.record(z.string(), z.unknown()).nullish(),
  DockerRootDir: z.string().default(''),
  CgroupVersion: z.string().default('1'),
});
export type DockerInfo = z.infer<typeof Info>;
const Created = z.object({ Id: z.string() });
const ContainerState = z.object({
  Status: z.string(),
  Running: z.boolean(),
  OOMKilled: z.boolean().default(false),
  ExitCode: z.number().default(0),
  Pid: z.number().default(0),
});
const Container = z.object({
  Id: z.string(),
  Name: z.string().default(''),
  Image: z.string().default(''),
  State: ContainerState,
  Config: z.object({ Image: z.string().default(''), Labels: z.record(z.string(), z.string()).nullish() }),
  HostConfig: z.object({
    Memory: z.number().default(0),
    NanoCpus: z.number().default(0),
    PidsLimit: z.number().nullish(),
  }),
});
export type ContainerInfo = z.infer<typeof Container>;
const ListedContainer = z.object({
  Id: z.string(),
  Names: z.array(z.string()).default([]),
  State: z.string().default(''),
  Labels: z.record(z.string(), z.string()).nullish(),
});
export type ListedContainer = z.infer<typeof ListedContainer>;
const Wait = z.object({ StatusCode: z.number() });
const Exec = z.object({ Running: z.boolean(), ExitCode: z.number().nullable(), Pid: z.number().default(0) });
const Stats = z.object({
  memory_stats: z
    .object({
      usage: z.number().optional(),
      stats: z
        .object({ total_inactive_file: z.number().optional(), inactive_file: z.number().optional() })
        .default({}),
    })
    .default({ stats: {} }),
});
/** One line of a progress stream (import, commit): a status or an error. */
const ProgressLine = z.object({ status: z.string().optional(), error: z.string().optional() });
const EventLine = z.object({
  status: z.string().optional(),
  Action: z.string().optional(),
  id: z.string().optional(),
});

function json<T>(schema: z.ZodType<T>, body: Buffer): T {
  return schema.parse(JSON.parse(body.toString('utf8')));
}

/** undefined when the engine answers 404 (no such container, image or exec). */
async function orMissing<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof DockerApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** Ignores the answers that mean "already so": 304 not modified, 409 not running. */
async function idempotent(p: Promise<unknown>, ...statuses: number[]): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DockerApiError && statuses.includes(err.status)) return;
    throw err;
  }
}

/**
 * gVisor registered with dockerd without `--network=none` tries to build its own network stack from the
 * container's namespace and refuses; corral's containers have no network (the gateway is a socket), so say how
 * to register it instead of passing the engine's words on.
 */
function explainStartError(err: unknown): unknown {
  if (err instanceof DockerApiError && /network enabled in root network namespace/.test(err.message)) {
    return new CorralError(
      'docker-runsc-network',
      `dockerd's runsc runtime tried to set up gVisor networking and refused (${err.message})`,
      'register runsc with "runtimeArgs": ["--platform=ptrace", "--network=none", "--host-uds=open"] in dockerd\'s daemon.json ' +
        '(scripts/start-dockerd.sh does), then restart dockerd',
    );
  }
  return err;
}

function labelFilter(labels: Record<string, string>): string {
  return JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) });
}

/** Reads newline-delimited JSON from a stream, calling `each` per parsed line. */
export async function eachJsonLine(stream: Readable, each: (line: unknown) => void): Promise<void> {
  let pending = '';
  for await (const chunk of stream) {
    pending += String(chunk);
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line !== '') each(JSON.parse(line));
      nl = pending.indexOf('\n');
    }
  }
  if (pending.trim() !== '') each(JSON.parse(pending));
}

export function createDockerApi(h: DockerHttp) {
  return {
    socketPath: h.socketPath,
    ping: async (): Promise<void> => void (await h.request('GET', '/_ping', { timeoutMs: 5_000 })),
    version: async () => json(Version, (await h.request('GET', '/version')).body),
    info: async () => json(Info, (await h.request('GET', '/info')).body),

    imageExists: async (ref: string): Promise<boolean> =>
      (await orMissing(h.request('GET', `/images/${encodeURIComponent(ref)}/json`))) !== undefined,
    /** `docker import -`: a tar stream becomes image repo:tag. Rejects with the engine's error line if any. */
    async imageImport(repo: string, tag: string, tar: Readable): Promise<string> {
      const res = await h.stream('POST', '/images/create', {
        query: { fromSrc: '-', repo, tag },
        body: { stream: tar, contentType: 'application/x-tar' },
      });
      let id = '';
      await eachJsonLine(res, (raw) => {
        const line = ProgressLine.parse(raw);
        if (line.error !== undefined) throw new DockerApiError(500, line.error);
        if (line.status?.startsWith('sha256:') === true) id = line.status;
      });
      return id;
    },
    imageRemove: (ref: string): Promise<void> =>
      idempotent(h.request('DELETE', `/images/${encodeURIComponent(ref)}`, { query: { force: true } }), 404),

    async containerCreate(name: string, body: ContainerCreateBody): Promise<string> {
      return json(
        Created,
        (await h.request('POST', '/containers/create', { query: { name }, json: body })).body,
      ).Id;
    },
    containerStart: (id: string): Promise<void> =>
      idempotent(h.request('POST', `/containers/${id}/start`), 304).catch((err: unknown) => {
        throw explainStartError(err);
      }),
    containerInspect: async (idOrName: string): Promise<ContainerInfo | undefined> => {
      const r = await orMissing(h.request('GET', `/containers/${encodeURIComponent(idOrName)}/json`));
      return r === undefined ? undefined : json(Container, r.body);
    },
    containerKill: (id: string, signal = 'KILL'): Promise<void> =>
      idempotent(h.request('POST', `/containers/${id}/kill`, { query: { signal } }), 404, 409),
    /** Resolves with the exit status once the container is not running. */
    async containerWait(id: string, signal?: AbortSignal): Promise<number> {
      const r = await h.request('POST', `/containers/${id}/wait`, {
        query: { condition: 'not-running' },
        timeoutMs: 0,
        ...(signal === undefined ? {} : { signal }),
      });
      return json(Wait, r.body).StatusCode;
    },
    containerRemove: (id: string): Promise<void> =>
      idempotent(h.request('DELETE', `/containers/${id}`, { query: { force: true, v: true } }), 404),
    containerList: async (labels: Record<string, string>): Promise<ListedContainer[]> =>
      json(
        z.array(ListedContainer),
        (await h.request('GET', '/containers/json', { query: { all: true, filters: labelFilter(labels) } }))
          .body,
      ),
    containerUpdate: async (id: string, body: Record<string, unknown>): Promise<void> =>
      void (await h.request('POST', `/containers/${id}/update`, { json: body })),
    /** Memory in use now without reclaimable page cache, as `docker stats` shows it (one sample, no stream). */
    async containerMemory(id: string): Promise<number | undefined> {
      const m = json(
        Stats,
        (await h.request('GET', `/containers/${id}/stats`, { query: { stream: false } })).body,
      ).memory_stats;
      if (m.usage === undefined) return undefined;
      return m.usage - (m.stats.total_inactive_file ?? m.stats.inactive_file ?? 0);
    },
    /** Saves a container's writable layer as image repo:tag. */
    containerCommit: async (id: string, repo: string, tag: string): Promise<string> =>
      json(
        Created,
        (await h.request('POST', '/commit', { query: { container: id, repo, tag }, timeoutMs: 0 })).body,
      ).Id,

    execCreate: async (containerId: string, body: ExecCreateBody): Promise<string> =>
      json(Created, (await h.request('POST', `/containers/${containerId}/exec`, { json: body })).body).Id,
    /** Starts the exec and returns its stdin/stdout/stderr as one multiplexed duplex stream. */
    execStart: (execId: string): Promise<Socket> =>
      h.hijack(`/exec/${execId}/start`, { json: { Detach: false, Tty: false } }),
    execInspect: async (execId: string) => json(Exec, (await h.request('GET', `/exec/${execId}/json`)).body),

    /**
     * Subscribes to the container's events (e.g. 'oom', 'die'); resolves once subscribed, then calls `each` per
     * event until the signal aborts. `done` settles when the stream ends.
     */
    async containerEvents(
      id: string,
      signal: AbortSignal,
      each: (action: string) => void,
    ): Promise<{ done: Promise<void> }> {
      const res = await h.stream('GET', '/events', {
        query: { filters: JSON.stringify({ type: ['container'], container: [id] }) },
        signal,
      });
      const done = eachJsonLine(res, (raw) => {
        const e = EventLine.parse(raw);
        const action = e.Action ?? e.status;
        if (action !== undefined) each(action);
      });
      return { done };
    },
    /** Image references matching a `reference` filter such as 'corral-layer-abc-agent'. */
    imageRefs: async (reference: string): Promise<string[]> =>
      json(
        z.array(z.object({ RepoTags: z.array(z.string()).nullish() })),
        (
          await h.request('GET', '/images/json', {
            query: { filters: JSON.stringify({ reference: [reference] }) },
          })
        ).body,
      ).flatMap((i) => i.RepoTags ?? []),
  };
}

export type DockerApi = ReturnType<typeof createDockerApi>;
