// The host binding part of `corral secret set` and `secret list`: flags parsed with the config schema.
import { SecretBindingInput } from '../../config/secret-binding.ts';
import type { Store } from '../../store/types.ts';
import { CorralError } from '../../util/errors.ts';

export interface BindOptions {
  host: string[];
  header?: string;
  unbind?: boolean;
}

/** The binding to store: undefined leaves it as it is (a rotation), null removes it. */
export function bindingFrom(
  opts: BindOptions,
): { hosts: string[]; header: string | null } | null | undefined {
  if (opts.unbind === true) {
    if (opts.host.length > 0 || opts.header !== undefined)
      throw new CorralError('invalid_argument', '--unbind cannot be combined with --host or --header');
    return null;
  }
  if (opts.host.length === 0) {
    if (opts.header !== undefined)
      throw new CorralError(
        'invalid_argument',
        '--header needs --host: name the hosts the header is sent to',
      );
    return undefined;
  }
  const parsed = SecretBindingInput.safeParse({ hosts: opts.host, header: opts.header ?? null });
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new CorralError(
      'invalid_argument',
      `${i?.path.join('.') ?? ''}: ${i?.message ?? 'invalid binding'}`,
    );
  }
  return { hosts: parsed.data.hosts.map((h) => h.trim().toLowerCase()), header: parsed.data.header };
}

/** Rows for `secret list`: names, hosts and header templates, never values. */
export function withBindings(store: Store): Record<string, unknown>[] {
  const bindings = new Map(store.listSecretBindings().map((b) => [b.name, b]));
  return store.listSecrets().map((s) => {
    const b = bindings.get(s.name);
    return {
      name: s.name,
      hosts: b ? b.hosts.join(',') : '-',
      header: b?.header ?? '-',
      updated: s.updatedAt,
    };
  });
}
