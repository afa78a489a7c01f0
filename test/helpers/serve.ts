// Runs `agentauth serve` as a real child process for end-to-end tests and
// waits until it says it listens.
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from './cli.js';

export interface RunningServe {
  child: ChildProcess;
  /** http://127.0.0.1:PORT, or null with --no-http. */
  url: string | null;
  socket: string;
  /** Everything it wrote to stderr so far (its log). */
  log(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves when it exits by itself. */
  exited: Promise<number | null>;
}

export async function startServe(env: Record<string, string>, args: string[] = ['--listen', '127.0.0.1:0'], timeoutMs = 20_000): Promise<RunningServe> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const start = Date.now();
  for (;;) {
    const line = /serve\.start .*$/m.exec(stderr)?.[0];
    if (line) {
      const http = / http=(\S+)/.exec(line)?.[1] ?? 'off';
      const socket = / socket=(\S+)/.exec(line)?.[1] ?? '';
      return {
        child,
        url: http === 'off' ? null : http,
        socket,
        log: () => stderr,
        stop: async (signal = 'SIGTERM') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
        exited,
      };
    }
    if (child.exitCode !== null) throw new Error(`serve exited (${child.exitCode}) before listening:\n${stderr}`);
    if (Date.now() - start > timeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`serve did not start in ${timeoutMs} ms:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
