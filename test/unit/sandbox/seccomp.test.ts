// The terminal-injection filter, run through a small classic-BPF interpreter
// (the subset seccomp filters use) for every ABI it must cover. The real
// kernel's verdict is checked end to end in test/e2e/sandbox.test.ts.
import { describe, expect, it } from 'vitest';
import { buildTerminalInjectionFilter, IOCTL_SYSCALLS, TIOCLINUX, TIOCSTI } from '../../../src/core/sandbox/seccomp.js';

const ALLOW = 0x7fff0000;
const EPERM = 0x00050000 | 1;

/** Runs the program on struct seccomp_data {nr, arch, ip, args[6]} (little-endian). */
function run(program: Buffer, nr: number, arch: number, args: bigint[] = []): number {
  const data = Buffer.alloc(64);
  data.writeInt32LE(nr | 0, 0);
  data.writeUInt32LE(arch >>> 0, 4);
  args.forEach((arg, i) => data.writeBigUInt64LE(arg, 16 + 8 * i));
  let pc = 0;
  let a = 0;
  for (let steps = 0; steps < 1000; steps += 1) {
    expect(pc * 8, 'jumped past the end').toBeLessThan(program.length);
    const code = program.readUInt16LE(pc * 8);
    const jt = program.readUInt8(pc * 8 + 2);
    const jf = program.readUInt8(pc * 8 + 3);
    const k = program.readUInt32LE(pc * 8 + 4);
    pc += 1;
    switch (code) {
      case 0x20: // ld [k]
        a = data.readUInt32LE(k);
        break;
      case 0x15: // jeq #k
        pc += a === k ? jt : jf;
        break;
      case 0x05: // ja
        pc += k;
        break;
      case 0x06: // ret #k
        return k;
      default:
        throw new Error(`unexpected opcode 0x${code.toString(16)}`);
    }
  }
  throw new Error('no return');
}

describe('terminal-injection seccomp filter', () => {
  const program = buildTerminalInjectionFilter();

  it('is a whole number of 8-byte instructions, ending in a return', () => {
    expect(program.length % 8).toBe(0);
    expect(program.readUInt16LE(program.length - 8)).toBe(0x06);
  });

  for (const [arch, nr] of IOCTL_SYSCALLS) {
    const abi = `arch 0x${arch.toString(16)} nr ${nr}`;
    it(`${abi}: TIOCSTI and TIOCLINUX get EPERM, other ioctls pass`, () => {
      expect(run(program, nr, arch, [0n, BigInt(TIOCSTI)])).toBe(EPERM);
      expect(run(program, nr, arch, [0n, BigInt(TIOCLINUX)])).toBe(EPERM);
      // The kernel takes the request as an unsigned int: high bits do not smuggle it past.
      expect(run(program, nr, arch, [0n, (1n << 32n) | BigInt(TIOCSTI)])).toBe(EPERM);
      expect(run(program, nr, arch, [0n, 0x5413n /* TIOCGWINSZ */])).toBe(ALLOW);
      expect(run(program, nr, arch, [0n, 0x5401n /* TCGETS */])).toBe(ALLOW);
    });
  }

  it('other system calls pass, with any arguments, on every ABI', () => {
    for (const [arch, nr] of IOCTL_SYSCALLS) {
      expect(run(program, nr + 1, arch, [0n, BigInt(TIOCSTI)])).toBe(ALLOW);
      expect(run(program, 0, arch, [0n, BigInt(TIOCSTI)])).toBe(ALLOW);
    }
  });

  it('an ioctl number of one ABI under another ABI is not mistaken for ioctl', () => {
    // 16 is ioctl on x86-64 but not on i386 (where 16 is lchown).
    expect(run(program, 16, 0x40000003, [0n, BigInt(TIOCSTI)])).toBe(ALLOW);
  });
});
