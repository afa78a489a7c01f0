// Starting `run`'s child: directly, under bubblewrap, or under sandbox-exec.
// Whichever way, `run` gets the same handle: a way to send the child a
// signal, and how it ended.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { AgentAuthError, childStartError } from '../../core/errors.js';
import { buildBwrapArgs, buildSignalResettingCommand } from '../../core/sandbox/bwrap-args.js';
import { suggestCommand } from '../../core/known-commands.js';
import { findExecutable } from '../../core/sandbox/find-executable.js';
import type { SandboxLayout } from '../../core/sandbox/layout.js';
import { buildTerminalInjectionFilter, FILTERED_ARCHES } from '../../core/sandbox/seccomp.js';

export interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningChild {
  /** Sends `signal` to the command itself (inside a sandbox too); a child that already ended is left alone. */
  kill(signal: NodeJS.Signals): void;
  ended: Promise<ChildOutcome>;
}

/** Spawns with stdio inherited; resolves once the process exists, rejects with 126/127/125. */
export function spawnDirect(file: string, args: string[], env: Record<string, string>): Promise<RunningChild> {
  return startProcess(file, file, args, env, ['inherit', 'inherit', 'inherit']).then(({ child, ended }) => ({
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    ended,
  }));
}

/** macOS: sandbox-exec applies the profile and execs the command, which stays our direct child. */
export function spawnInSandboxExec(binary: string, profile: string, file: string, args: string[], env: Record<string, string>): Promise<RunningChild> {
  requireExecutable(file, env);
  return startProcess(binary, file, ['-p', profile, file, ...args], env, ['inherit', 'inherit', 'inherit']).then(({ child, ended }) => ({
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    ended,
  }));
}

export interface BwrapChildOptions {
  bwrap: string;
  /** env(1) that knows --default-signal. */
  envBinary: string;
  perms: boolean;
  layout: SandboxLayout;
  cwd: string;
}

/**
 * Linux: the command under bubblewrap.
 *
 * bwrap's outer process waits for the sandbox and exits with the command's
 * status; it forwards no signal, and dies of SIGINT/SIGHUP/SIGQUIT/SIGTERM
 * (taking the sandbox with it, --die-with-parent) before the command could
 * clean up. So `env --ignore-signal` starts bwrap with those four ignored
 * (ignored dispositions survive exec; Node cannot spawn with them ignored),
 * the command gets its defaults back from `env --default-signal`, and `kill`
 * signals the command itself: the first child of the sandbox's init, whose
 * pid bwrap reports on --info-fd. On a terminal, Ctrl-C reaches the command
 * straight from the terminal (same process group), as without a sandbox.
 *
 * How it ended: bwrap reports death by signal N as exit status 128+N, like a
 * shell, so an exit status 128+N is taken as death by signal N (a command
 * that itself exits 130 reads as SIGINT; a shell's $? cannot tell them apart
 * either).
 */
export async function spawnInBwrap(options: BwrapChildOptions, file: string, args: string[], env: Record<string, string>): Promise<RunningChild> {
  requireExecutable(file, env, options.cwd);
  const filter = FILTERED_ARCHES.includes(process.arch) ? buildTerminalInjectionFilter() : null;
  const bwrapArgs = buildBwrapArgs({
    layout: options.layout,
    cwd: options.cwd,
    infoFd: 3,
    seccompFd: filter ? 4 : null,
    perms: options.perms,
    command: buildSignalResettingCommand(options.envBinary, file, args, env['PWD']),
  });
  const stdio: ('inherit' | 'pipe')[] = ['inherit', 'inherit', 'inherit', 'pipe', ...(filter ? (['pipe'] as const) : [])];
  const { child, ended } = await startProcess(options.envBinary, file, ['--ignore-signal=INT,QUIT,HUP,TERM', '--', options.bwrap, ...bwrapArgs], env, stdio);
  if (filter) (child.stdio[4] as NodeJS.WritableStream).end(filter);
  const initPid = readInitPid(child);
  let commandPid: number | null = null;
  let done = false;
  const mapped = ended.then((outcome) => {
    done = true;
    return mapShellStatus(outcome);
  });
  return {
    kill: (signal) => {
      void (async () => {
        commandPid ??= await findCommandPid(await initPid, () => done);
        if (commandPid !== null && !done) {
          try {
            process.kill(commandPid, signal);
          } catch {
            // It ended in the meantime.
          }
        }
      })();
    },
    ended: mapped,
  };
}

/** 128+N from bwrap means the command died of signal N. */
function mapShellStatus(outcome: ChildOutcome): ChildOutcome {
  if (outcome.signal !== null || outcome.code === null || outcome.code <= 128) return outcome;
  const number = outcome.code - 128;
  const name = (Object.keys(osConstants.signals) as NodeJS.Signals[]).find((signal) => osConstants.signals[signal] === number);
  return name ? { code: null, signal: name } : outcome;
}

function readInitPid(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    let text = '';
    const info = child.stdio[3] as NodeJS.ReadableStream;
    info.on('data', (chunk: Buffer) => (text += chunk.toString()));
    info.once('error', () => resolve(null));
    info.once('end', () => {
      try {
        const pid = (JSON.parse(text) as { 'child-pid'?: unknown })['child-pid'];
        resolve(typeof pid === 'number' ? pid : null);
      } catch {
        resolve(null);
      }
    });
  });
}

/**
 * The command's pid, as seen from here: the first child of the sandbox's
 * init. It may not exist yet when a signal comes very early (init forks it
 * once the mounts are done), so look again for up to two seconds.
 */
async function findCommandPid(initPid: number | null, ended: () => boolean): Promise<number | null> {
  if (initPid === null) return null;
  for (let attempt = 0; attempt < 200 && !ended(); attempt += 1) {
    const pid = listChildren(initPid)[0];
    if (pid !== undefined) return pid;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return null;
}

function listChildren(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN: find processes whose parent is `pid`.
    const found: number[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        // Field 4 (ppid) follows the command name, which may hold spaces and parentheses.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === pid) found.push(Number(name));
      } catch {
        // Gone already.
      }
    }
    return found.sort((a, b) => a - b);
  }
}

function requireExecutable(file: string, env: Record<string, string>, cwd = process.cwd()): void {
  const found = findExecutable(file, env['PATH'], cwd);
  if (!found.ok) throw startError(file, found.code, undefined, env);
}

function startProcess(
  binary: string,
  file: string,
  args: string[],
  env: Record<string, string>,
  stdio: ('inherit' | 'pipe')[],
): Promise<{ child: ChildProcess; ended: Promise<ChildOutcome> }> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(binary, args, { stdio, env });
    } catch (error) {
      reject(startError(file, (error as NodeJS.ErrnoException).code, error, env));
      return;
    }
    // Listened for from the start: a very short-lived child may end before 'spawn' is handled.
    const ended = new Promise<ChildOutcome>((done) => child.once('exit', (code, signal) => done({ code, signal })));
    child.once('spawn', () => resolve({ child, ended }));
    child.once('error', (error: NodeJS.ErrnoException) => reject(startError(file, error.code, error, env)));
  });
}

function startError(file: string, code: string | undefined, cause?: unknown, env: Record<string, string> = {}): AgentAuthError {
  switch (code) {
    case 'ENOENT': {
      const suggestion = file.includes('/') ? null : suggestCommand(file, (command) => findExecutable(command, env['PATH'], process.cwd()).ok);
      return childStartError('COMMAND_NOT_FOUND', `command not found: ${file}`, { hint: suggestion ?? 'check the name and PATH' });
    }
    case 'EACCES':
    case 'EISDIR':
    case 'ENOEXEC':
    case 'EPERM':
      return childStartError('COMMAND_NOT_EXECUTABLE', `cannot execute ${file} (${code})`, { hint: `check that it is a program and executable (chmod +x ${file})` });
    default:
      return childStartError('RUN_CANNOT_START', `could not start ${file} (${code ?? (cause as Error)?.message ?? 'unknown error'})`);
  }
}
