// A seccomp filter for the sandboxed child: ioctl(TIOCSTI) and ioctl(TIOCLINUX)
// fail with EPERM; every other system call is allowed.
//
// Why: the child shares run's terminal. `bwrap --new-session` would take it
// off the terminal instead, and with it job control, Ctrl-C and resize: a TUI
// would break. But TIOCSTI pushes bytes into the terminal's input queue, and
// the user's shell reads them after run exits: commands typed for the user,
// run outside the sandbox. TIOCLINUX can do the same on a virtual console.
// Kernels since 6.2 can refuse TIOCSTI (sysctl dev.tty.legacy_tiocsti=0), but
// many do not; this filter does not depend on it. bubblewrap's manual
// recommends this filter for sandboxes that keep the terminal.
//
// The program is classic BPF over struct seccomp_data. It is small enough to
// build here rather than through libseccomp (a native dependency). It checks
// every ABI through which a process on these architectures can call ioctl: a
// filter that checked only the host's would let a 32-bit program (or an x32
// one on x86-64) reach ioctl under another number, unchecked.
//   x86-64: 16; x32: 514, and 16 with the x32 bit; i386: 54;
//   AArch64: 29; 32-bit ARM: 54; RISC-V 64: 29.
// All are little-endian, so the low 32 bits of args[1] (the request, an
// unsigned int to the kernel) are at offset 24. On other architectures run
// adds no filter (FILTERED_ARCHES).

/** AUDIT_ARCH_* values (linux/audit.h). */
const ARCH = {
  x86_64: 0xc000003e,
  i386: 0x40000003,
  aarch64: 0xc00000b7,
  arm: 0x40000028,
  riscv64: 0xc00000f3,
} as const;

const X32_SYSCALL_BIT = 0x40000000;

/** Every (AUDIT_ARCH, ioctl syscall number) pair the filter inspects. */
export const IOCTL_SYSCALLS: readonly (readonly [arch: number, nr: number])[] = [
  [ARCH.x86_64, 16],
  [ARCH.x86_64, X32_SYSCALL_BIT | 514],
  [ARCH.x86_64, X32_SYSCALL_BIT | 16],
  [ARCH.i386, 54],
  [ARCH.aarch64, 29],
  [ARCH.arm, 54],
  [ARCH.riscv64, 29],
];

/** Node's `process.arch` values whose ABIs the pairs above cover. */
export const FILTERED_ARCHES: readonly string[] = ['x64', 'ia32', 'arm64', 'arm', 'riscv64'];

export const TIOCSTI = 0x5412;
export const TIOCLINUX = 0x541c;

// linux/filter.h, linux/seccomp.h
const LD_W_ABS = 0x20;
const JMP_JEQ_K = 0x15;
const JMP_JA = 0x05;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const EPERM = 1;

const OFFSET_NR = 0;
const OFFSET_ARCH = 4;
const OFFSET_ARG1_LOW = 24;

interface Instruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/**
 * The filter in the form bwrap's `--seccomp FD` reads: struct sock_filter
 * entries, 8 bytes each, little-endian.
 *
 *   per pair (5):  ld arch; jeq ARCH ? next : skip 3; ld nr; jeq NR ? next : skip 1; ja CHECK
 *   then:          ret ALLOW                      (no pair matched)
 *   CHECK:         ld args[1]; jeq TIOCSTI → DENY; jeq TIOCLINUX → DENY; ret ALLOW
 *   DENY:          ret ERRNO(EPERM)
 */
export function buildTerminalInjectionFilter(): Buffer {
  const program: Instruction[] = [];
  const op = (code: number, k: number, jt = 0, jf = 0) => program.push({ code, jt, jf, k });
  const check = IOCTL_SYSCALLS.length * 5 + 1;
  IOCTL_SYSCALLS.forEach(([arch, nr], index) => {
    const base = index * 5;
    op(LD_W_ABS, OFFSET_ARCH);
    op(JMP_JEQ_K, arch, 0, 3);
    op(LD_W_ABS, OFFSET_NR);
    op(JMP_JEQ_K, nr, 0, 1);
    op(JMP_JA, check - (base + 5));
  });
  op(RET_K, RET_ALLOW);
  op(LD_W_ABS, OFFSET_ARG1_LOW);
  op(JMP_JEQ_K, TIOCSTI, 2, 0);
  op(JMP_JEQ_K, TIOCLINUX, 1, 0);
  op(RET_K, RET_ALLOW);
  op(RET_K, RET_ERRNO | EPERM);
  return encode(program);
}

function encode(program: Instruction[]): Buffer {
  const buffer = Buffer.alloc(program.length * 8);
  program.forEach((instruction, index) => {
    const at = index * 8;
    buffer.writeUInt16LE(instruction.code, at);
    buffer.writeUInt8(instruction.jt, at + 2);
    buffer.writeUInt8(instruction.jf, at + 3);
    buffer.writeUInt32LE(instruction.k >>> 0, at + 4);
  });
  return buffer;
}
