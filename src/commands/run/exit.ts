// `run`, step 4: while the child runs, pass on the signals meant for it; when
// it ends, exit the way it exited (its code, or death by the same signal).
import { constants as osConstants } from 'node:os';
import type { Context } from '../context.js';
import type { RunningChild } from './spawn-child.js';

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGQUIT'];

/**
 * Forwards SIGTERM, SIGHUP and SIGQUIT to the child until released. SIGINT:
 * on a terminal the child gets it from the terminal itself (same foreground
 * process group), so we only keep from dying of it; otherwise (a supervisor,
 * a pipeline) we forward it like the others. Released only after run.end is
 * written, so that a second signal cannot cut our clean-up short.
 */
export function forwardSignals(ctx: Context, child: RunningChild): () => void {
  const onTerminal = ctx.stdin.isTTY === true;
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of onTerminal ? FORWARDED : [...FORWARDED, 'SIGINT' as const]) handlers.set(signal, () => child.kill(signal));
  if (onTerminal) handlers.set('SIGINT', () => {});
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

/**
 * Death by signal: after clean-up (gateway closed, run.end and a checkpoint
 * written) `run` sends the same signal to itself, so a shell sees e.g. 143
 * for SIGTERM, exactly as if CMD had run directly. Should the signal not end
 * us (it is ignored by inheritance), we exit 128 + the signal number instead.
 */
export async function dieOfSignal(signal: NodeJS.Signals): Promise<number> {
  // No handler of ours is left, so the default action applies (proper-lockfile's
  // signal-exit, if loaded, runs its exit hooks and re-raises the same signal).
  try {
    process.kill(process.pid, signal);
    // Delivery is asynchronous; give it a moment before falling back to 128+n.
    await new Promise((resolve) => setTimeout(resolve, 200));
  } catch {
    // Could not signal ourselves: fall through to the exit code.
  }
  return 128 + (osConstants.signals[signal] ?? 0);
}
