// Where `agentauth serve` listens for mint requests and `token mint` looks
// for it. Kept free of heavy imports: `token mint` reads this before anything else.
import { homedir } from 'node:os';
import { join } from 'node:path';

export const SOCKET_NAME = 'serve.sock';
// sun_path holds 108 bytes on Linux and 104 on macOS, terminating NUL included.
export const MAX_SOCKET_PATH_BYTES = 103;

type Env = Record<string, string | undefined>;

/**
 * AGENTAUTH_SOCK when set; with AGENTAUTH_HOME, inside it; else
 * `$XDG_RUNTIME_DIR/agentauth/` (per user, private, cleared at logout); else
 * agentauth's state folder (`$XDG_STATE_HOME/agentauth/`, as paths.ts has it),
 * rather than a shared /tmp where another user could take the name first.
 * All of these are places `run`'s sandbox hides from the child: whoever
 * reaches the socket can mint.
 */
export function resolveSocketPath(env: Env): string {
  const explicit = env['AGENTAUTH_SOCK'];
  if (explicit) return explicit;
  const home = env['AGENTAUTH_HOME'];
  if (home) return join(home, SOCKET_NAME);
  const runtime = env['XDG_RUNTIME_DIR'];
  if (runtime && runtime.startsWith('/')) return join(runtime, 'agentauth', SOCKET_NAME);
  const state = env['XDG_STATE_HOME'] || join(env['HOME'] || homedir(), '.local', 'state');
  return join(state, 'agentauth', SOCKET_NAME);
}
