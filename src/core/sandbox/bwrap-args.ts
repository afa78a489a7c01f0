// The bubblewrap command line for a layout. Pure.
//
// The child keeps the user's world: the whole file system as it is (same uid,
// read-write where the user can write, devices, the terminal), the network,
// the environment. What changes:
//   - its own PID namespace with a fresh /proc: agentauth's process, its
//     environment, memory and file descriptors do not exist in there;
//   - the layout's masks: an empty read-only folder over each hidden folder,
//     /dev/null over each hidden file (reads give nothing, writes fail);
//   - $XDG_RUNTIME_DIR is an empty private folder with only the kept sockets;
//   - the terminal-injection seccomp filter (seccomp.ts);
//   - it dies with run (--die-with-parent).
// Not --new-session: that would take the child off the terminal (no job
// control, no Ctrl-C, no resize), which the seccomp filter makes unnecessary.
// Not --unshare-net: the child reaches the gateway on 127.0.0.1, and the
// network is part of the user's world.
import type { SandboxLayout } from './layout.js';

export interface BwrapInvocation {
  layout: SandboxLayout;
  cwd: string;
  /** Where bwrap writes {"child-pid": …} (the sandbox's init, in our PID namespace). */
  infoFd: number;
  /** Where bwrap reads the seccomp program from, or null for none. */
  seccompFd: number | null;
  /** bubblewrap ≥ 0.5 knows --perms: private folders get mode 0700, as tmux and others insist. */
  perms: boolean;
  /** What bwrap executes inside: see buildSignalResettingCommand. */
  command: string[];
}

export function buildBwrapArgs(invocation: BwrapInvocation): string[] {
  const { layout, perms } = invocation;
  const privateDir = (path: string) => [...(perms ? ['--perms', '0700'] : []), '--tmpfs', path];
  const args = ['--dev-bind', '/', '/', '--proc', '/proc'];
  if (layout.runtimeDir) {
    args.push(...privateDir(layout.runtimeDir));
    for (const path of layout.keep) args.push('--bind', path, path);
  }
  for (const path of layout.readOnly) args.push('--ro-bind', path, path);
  for (const mask of layout.masks) {
    if (mask.type === 'file') args.push('--ro-bind', '/dev/null', mask.path);
    else if (mask.private) args.push(...privateDir(mask.path));
    else args.push('--tmpfs', mask.path, '--remount-ro', mask.path);
  }
  args.push('--unshare-pid', '--die-with-parent', '--info-fd', String(invocation.infoFd));
  if (invocation.seccompFd !== null) args.push('--seccomp', String(invocation.seccompFd));
  args.push('--chdir', invocation.cwd, '--', ...invocation.command);
  return args;
}

/**
 * The command as bwrap should run it: through `env --default-signal`.
 *
 * bwrap's outer process does not forward signals, and dies of SIGINT, SIGHUP,
 * SIGTERM or SIGQUIT — taking the sandbox with it (--die-with-parent) before
 * the child can clean up after a Ctrl-C. So run starts bwrap with those
 * signals ignored (`env --ignore-signal`), run itself forwards them to the
 * child, and `env --default-signal` (coreutils ≥ 8.31) gives the child the
 * default dispositions back, exactly as a child spawned by Node gets them.
 *
 * env also puts PWD back as the child's environment had it: bwrap sets PWD
 * to the --chdir folder, and the child must see the environment run gave it.
 * env treats leading NAME=VALUE words as assignments even after `--`; a
 * command whose name holds "=" goes through `sh -c 'exec "$0" "$@"'` instead.
 */
export function buildSignalResettingCommand(env: string, file: string, args: string[], pwd: string | undefined): string[] {
  const target = file.includes('=') ? ['/bin/sh', '-c', 'exec "$0" "$@"', file, ...args] : [file, ...args];
  return [env, '--default-signal', ...(pwd === undefined ? ['-u', 'PWD', '--'] : ['--', `PWD=${pwd}`]), ...target];
}
