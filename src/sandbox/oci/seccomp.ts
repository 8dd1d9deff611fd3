// The seccomp filter of the OCI backends: everything allowed except kernel interfaces an agent has no use for and
// that have a record of privilege escalations. Denied calls fail with EPERM, so programs see an ordinary error.
import type { OciSeccomp, SeccompRule } from './spec.ts';

const EPERM = 1;
const ENOSYS = 38;
const CLONE_NEWUSER = 0x10000000;
/** personality() flags that weaken the address space: no ASLR, executable data, a mapped page zero, 3 GiB limits */
const PERSONALITY_UNSAFE = [0x0040000, 0x0100000, 0x0200000, 0x0400000, 0x0800000, 0x8000000];
/** Set in PER_QUERY (0xffffffff) and in no real personality: lets a query through the flag rules below. */
const PERSONALITY_QUERY_BIT = 0x80000000;

/** Denied outright, grouped by why. A name the kernel or libseccomp does not know is skipped by the runtime. */
export const DENIED_SYSCALLS: Record<string, string[]> = {
  'replacing or extending the kernel': [
    'kexec_load',
    'kexec_file_load',
    'init_module',
    'finit_module',
    'delete_module',
    'create_module',
    'query_module',
    'get_kernel_syms',
  ],
  'large kernel attack surface, rarely needed by tools': [
    'bpf',
    'perf_event_open',
    'userfaultfd',
    'io_uring_setup',
    'io_uring_enter',
    'io_uring_register',
    'lookup_dcookie',
  ],
  'the kernel keyring is not namespaced': ['keyctl', 'add_key', 'request_key'],
  'changing the mount table or leaving the root': [
    'mount',
    'umount',
    'umount2',
    'pivot_root',
    'chroot',
    'move_mount',
    'open_tree',
    'fsopen',
    'fsmount',
    'fsconfig',
    'fspick',
    'mount_setattr',
  ],
  'file handles bypass path checks (the "shocker" escape)': ['open_by_handle_at', 'name_to_handle_at'],
  'host-wide state': [
    'swapon',
    'swapoff',
    'reboot',
    'acct',
    'quotactl',
    'syslog',
    'settimeofday',
    'clock_settime',
    'clock_adjtime',
    'stime',
    'sethostname',
    'setdomainname',
    'nfsservctl',
    'vhangup',
  ],
  'raw hardware access': ['iopl', 'ioperm', 'vm86', 'vm86old'],
  // Tracing stays inside the sandbox's own pid namespace and uid, but ptrace is a large, bug-prone interface
  // (PTRACE_TRACEME CVE-2019-13272, seccomp bypasses before Linux 4.8) that an agent's tools do not need;
  // the cost is that strace and gdb do not work inside.
  'tracing and reading other processes': ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp'],
  'obsolete interfaces with a poor security record': ['uselib', 'ustat', 'sysfs', '_sysctl'],
};

export interface SeccompOptions {
  /**
   * Answer clone3 with ENOSYS so that libc falls back to clone, whose flags the filter can read (clone3 passes
   * them in memory). gVisor does not implement clone3 at all, and its filter must not answer for it.
   */
  clone3Enosys: boolean;
  /** Node's process.arch of the host */
  arch: string;
}

function architectures(arch: string): string[] {
  // The 32-bit ABIs a 64-bit kernel also accepts are filtered too, or int 0x80 would bypass the list.
  if (arch === 'arm64') return ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];
  return ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
}

export function seccompProfile(opts: SeccompOptions): OciSeccomp {
  const rules: SeccompRule[] = [
    { names: Object.values(DENIED_SYSCALLS).flat(), action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
    // A nested user namespace would hand the agent a full capability set over new namespaces: kernel code
    // (netfilter, mount, overlayfs) that unprivileged users otherwise never reach.
    {
      names: ['clone', 'unshare'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: EPERM,
      args: [{ index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }],
    },
    // One rule per unsafe flag: set, and not a PER_QUERY. (Two tests on one argument in one rule do not work
    // with runc 1.1's libseccomp; it then refused every personality call.)
    ...PERSONALITY_UNSAFE.map((flag): SeccompRule => ({
      names: ['personality'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: EPERM,
      args: [{ index: 0, value: flag + PERSONALITY_QUERY_BIT, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }],
    })),
  ];
  if (opts.clone3Enosys) rules.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  return { defaultAction: 'SCMP_ACT_ALLOW', architectures: architectures(opts.arch), syscalls: rules };
}
