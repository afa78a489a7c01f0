// Driving a program in a real terminal: a tmux session, keys sent, the screen read.
import { execa } from 'execa';

export interface TmuxPane {
  screen(): Promise<string>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  keys(...keys: string[]): Promise<unknown>;
}

export function attachPane(session: string, history = 0): TmuxPane {
  const screen = async () => (await execa('tmux', ['capture-pane', '-p', '-t', session, ...(history ? ['-S', String(-history)] : [])])).stdout;
  return {
    screen,
    keys: (...keys) => execa('tmux', ['send-keys', '-t', session, ...keys]),
    async waitFor(pattern, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const text = await screen();
        if (pattern.test(text)) return text;
        if (Date.now() > end) throw new Error(`timed out waiting for ${pattern}; screen:\n${text}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}
