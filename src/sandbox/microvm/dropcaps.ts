// The guest's capability drop: a 314-byte static x86-64 program the initramfs carries, because nothing else
// there can empty the bounding set (busybox's setpriv cannot) and the image's setpriv or capsh would run from
// the agent's own layer, which the agent may have replaced in an earlier session. Usage: dropcaps PROG ARGS...
// It empties the bounding set, clears the permitted, effective and inheritable sets (the ambient set with
// them), sets no_new_privs and execs PROG; so PROG runs as uid 0 with no capability and cannot regain one.
// Exit 126 when a step fails (fail closed: PROG never runs with capabilities), 127 when PROG cannot be run.

/**
 * The machine code, position-independent (relative jumps only), assembled from the listing beside each line.
 * Syscalls: prctl 157 (PR_CAPBSET_DROP 24, PR_SET_NO_NEW_PRIVS 38), capset 126, execve 59, exit 60.
 */
const CODE = [
  ['4c8b2424', 'mov (%rsp),%r12            argc'],
  ['4983fc02', 'cmp $2,%r12'],
  ['0f8ca8000000', 'jl fail'],
  ['31db', 'xor %ebx,%ebx              cap = 0'],
  ['b89d000000', 'loop: mov $157,%eax         prctl(PR_CAPBSET_DROP, cap)'],
  ['bf18000000', 'mov $24,%edi'],
  ['4889de', 'mov %rbx,%rsi'],
  ['0f05', 'syscall'],
  ['4885c0', 'test %rax,%rax'],
  ['740a', 'je next'],
  ['4883f8ea', 'cmp $-22,%rax              EINVAL: past the last capability'],
  ['0f8588000000', 'jne fail'],
  ['ffc3', 'next: inc %ebx'],
  ['83fb40', 'cmp $64,%ebx'],
  ['7cdb', 'jl loop'],
  ['4883ec20', 'sub $32,%rsp               header {v3, pid 0}, data[2] all zero'],
  ['c7042422050820', 'movl $0x20080522,(%rsp)'],
  ['c744240400000000', 'movl $0,4(%rsp)'],
  ['48c744240800000000', 'movq $0,8(%rsp)'],
  ['48c744241000000000', 'movq $0,16(%rsp)'],
  ['48c744241800000000', 'movq $0,24(%rsp)'],
  ['b87e000000', 'mov $126,%eax              capset(header, data)'],
  ['4889e7', 'mov %rsp,%rdi'],
  ['488d742408', 'lea 8(%rsp),%rsi'],
  ['0f05', 'syscall'],
  ['4885c0', 'test %rax,%rax'],
  ['753f', 'jne fail'],
  ['4883c420', 'add $32,%rsp'],
  ['b89d000000', 'mov $157,%eax              prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)'],
  ['bf26000000', 'mov $38,%edi'],
  ['be01000000', 'mov $1,%esi'],
  ['31d2', 'xor %edx,%edx'],
  ['4531d2', 'xor %r10d,%r10d'],
  ['4531c0', 'xor %r8d,%r8d'],
  ['0f05', 'syscall'],
  ['4885c0', 'test %rax,%rax'],
  ['751d', 'jne fail'],
  ['b83b000000', 'mov $59,%eax               execve(argv[1], &argv[1], envp)'],
  ['488b7c2410', 'mov 16(%rsp),%rdi'],
  ['488d742410', 'lea 16(%rsp),%rsi'],
  ['4a8d54e410', 'lea 16(%rsp,%r12,8),%rdx   envp = &argv[argc + 1]'],
  ['0f05', 'syscall'],
  ['bf7f000000', 'mov $127,%edi'],
  ['eb05', 'jmp out'],
  ['bf7e000000', 'fail: mov $126,%edi'],
  ['b83c000000', 'out: mov $60,%eax          exit'],
  ['0f05', 'syscall'],
] as const;

const LOAD_ADDRESS = 0x400000;
const ELF_HEADER_BYTES = 64;
const PROGRAM_HEADER_BYTES = 56;

/** A complete ELF executable: the header, one read+execute PT_LOAD of the whole file, the code. */
export function dropcapsElf(): Buffer {
  const code = Buffer.from(CODE.map(([hex]) => hex).join(''), 'hex');
  const start = ELF_HEADER_BYTES + PROGRAM_HEADER_BYTES;
  const elf = Buffer.alloc(start + code.length);
  elf.write('\x7fELF', 0, 'latin1');
  elf[4] = 2; // 64-bit
  elf[5] = 1; // little-endian
  elf[6] = 1; // ELF version 1, System V ABI
  elf.writeUInt16LE(2, 16); // ET_EXEC
  elf.writeUInt16LE(0x3e, 18); // x86-64
  elf.writeUInt32LE(1, 20);
  elf.writeBigUInt64LE(BigInt(LOAD_ADDRESS + start), 24); // entry
  elf.writeBigUInt64LE(BigInt(ELF_HEADER_BYTES), 32); // program headers
  elf.writeUInt16LE(ELF_HEADER_BYTES, 52);
  elf.writeUInt16LE(PROGRAM_HEADER_BYTES, 54);
  elf.writeUInt16LE(1, 56); // one program header, no sections
  const ph = ELF_HEADER_BYTES;
  elf.writeUInt32LE(1, ph); // PT_LOAD
  elf.writeUInt32LE(5, ph + 4); // PF_R | PF_X
  elf.writeBigUInt64LE(0n, ph + 8); // from file offset 0
  elf.writeBigUInt64LE(BigInt(LOAD_ADDRESS), ph + 16);
  elf.writeBigUInt64LE(BigInt(LOAD_ADDRESS), ph + 24);
  elf.writeBigUInt64LE(BigInt(elf.length), ph + 32);
  elf.writeBigUInt64LE(BigInt(elf.length), ph + 40);
  elf.writeBigUInt64LE(0x1000n, ph + 48);
  code.copy(elf, start);
  return elf;
}
