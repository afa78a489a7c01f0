// What the sandboxed child must not reach, and what it may only read. Pure:
// it works on path names (from agentauth's paths, its environment and the
// user's settings); resolve.ts then looks at the file system.
//
// Three kinds of entries, applied in this order so that a later one wins:
//   readOnly  the user's --sandbox-ro paths (bind-mounted read-only);
//   hide      the user's --sandbox-hide paths (masked: empty, read-only);
//   protect   agentauth's own files, the session bus and the keyrings
//             (masked last, so no user entry can bring them back).
// Linux also replaces $XDG_RUNTIME_DIR with an empty folder (runtimeDir) and
// brings back only what git and coding agents use from it.
import { isAbsolute, join, resolve } from 'node:path';
import type { Env, Paths } from '../paths.js';
import { parseBusAddress } from './bus-address.js';

export interface ProtectedPath {
  path: string;
  /** Why the child must not reach it. */
  why: string;
  /**
   * Replaced by an empty folder the child may use as its own (a terminal
   * multiplexer's socket folder: the child may start its own server there),
   * rather than an empty read-only one.
   */
  private?: boolean;
}

export interface PlanInput {
  platform: NodeJS.Platform;
  paths: Paths;
  /** agentauth's own environment (not the child's). */
  env: Env;
  /** --passphrase-file, when given. */
  passphraseFile?: string;
  uid: number;
  cwd: string;
  /** From --sandbox-hide and the config, as the user wrote them (~ allowed). */
  hide: string[];
  /** From --sandbox-ro and the config. */
  readOnly: string[];
  /**
   * Session-bus sockets found in /tmp (dbus-daemon's `unix:tmpdir=/tmp`):
   * a child needs no variable to find them, so they are hidden whether or
   * not DBUS_SESSION_BUS_ADDRESS names them.
   */
  busSockets?: string[];
}

export interface SandboxPlan {
  protect: ProtectedPath[];
  hide: string[];
  readOnly: string[];
  /** Linux: the folder replaced by an empty one, and what is bound back into it. */
  runtimeDir: { path: string; keep: string[] } | null;
  /** What the sandbox cannot hide on this machine, one sentence each. */
  gaps: string[];
}

export function planSandbox(input: PlanInput): SandboxPlan {
  const { env, paths } = input;
  const home = env['HOME'];
  const absolute = (path: string) => expandPath(path, home, input.cwd);
  const protect: ProtectedPath[] = [];
  const add = (path: string | undefined, why: string, options: { private?: boolean } = {}) => {
    if (path) protect.push({ path: absolute(path), why, ...options });
  };

  add(paths.configDir, "agentauth's config folder");
  add(paths.dataDir, "agentauth's data folder (keystore, vault)");
  add(paths.stateDir, "agentauth's state folder (audit log)");
  add(paths.cacheDir, "agentauth's cache folder");
  // Named separately: AGENTAUTH_AUDIT_LOG may put the log anywhere.
  add(paths.auditLog, 'the audit log');
  add(`${paths.auditLog}.state`, "the audit log's state cache");
  add(input.passphraseFile ?? env['AGENTAUTH_PASSPHRASE_FILE'], 'the keystore passphrase file');
  // `agentauth serve`'s mint socket: whoever reaches it can mint tokens.
  add(env['AGENTAUTH_SOCK'], 'the agentauth serve socket');
  // systemd LoadCredential=: the service's credentials (the passphrase file among them).
  add(env['CREDENTIALS_DIRECTORY'], "the service's systemd credentials");

  const gaps: string[] = [];
  // Without XDG_RUNTIME_DIR the standard folder may still be there: a child needs no variable to look.
  const runtime = env['XDG_RUNTIME_DIR'] ? absolute(env['XDG_RUNTIME_DIR']) : input.platform === 'linux' && input.uid >= 0 ? `/run/user/${input.uid}` : undefined;
  const bus = parseBusAddress(env['DBUS_SESSION_BUS_ADDRESS'] ?? '');
  for (const path of [...bus.paths, ...(input.busSockets ?? [])]) add(path, 'the D-Bus session bus (the Secret Service answers there)');
  for (const address of bus.unreachable) {
    gaps.push(`the D-Bus session bus listens on ${address}, which a sandbox without its own network cannot hide`);
  }

  if (input.platform === 'linux') {
    // The standard folder too when XDG_RUNTIME_DIR points elsewhere.
    for (const dir of new Set([runtime, `/run/user/${input.uid}`])) {
      if (!dir) continue;
      add(join(dir, 'bus'), 'the D-Bus session bus');
      add(join(dir, 'agentauth'), 'the agentauth serve socket');
      add(join(dir, 'keyring'), "gnome-keyring's sockets");
      add(join(dir, 'systemd'), 'the systemd user manager (it starts programs outside the sandbox)');
    }
    add(env['GNOME_KEYRING_CONTROL'], "gnome-keyring's sockets");
    const dataHome = env['XDG_DATA_HOME'] || (home ? join(home, '.local/share') : undefined);
    if (dataHome) {
      add(join(dataHome, 'keyrings'), "gnome-keyring's store (the Secret Service's items, encrypted with your login password, or not at all)");
      add(join(dataHome, 'kwalletd'), "KWallet's store");
    }
    // A terminal multiplexer's server runs whatever a client asks, outside the sandbox.
    const own = { private: true };
    add(join(env['TMUX_TMPDIR'] || '/tmp', `tmux-${input.uid}`), "tmux's server sockets (a server runs commands outside the sandbox)", own);
    add(env['TMUX']?.split(',')[0], "tmux's server socket");
    add(env['SCREENDIR'], "screen's sockets", own);
    if (env['USER']) add(`/run/screen/S-${env['USER']}`, "screen's sockets", own);
  }
  if (input.platform === 'darwin' && home) {
    add(join(home, 'Library/Keychains'), 'your login keychain');
  }

  return {
    protect,
    hide: input.hide.map(absolute),
    readOnly: input.readOnly.map(absolute),
    runtimeDir: input.platform === 'linux' && runtime ? { path: runtime, keep: listKeptRuntimeEntries(env, runtime, absolute) } : null,
    gaps,
  };
}

/**
 * What stays reachable in $XDG_RUNTIME_DIR: the SSH agent (git over SSH),
 * gpg-agent (signed commits) and the Wayland display. Nothing else there is
 * needed by git or by coding agents such as Claude Code (which makes its own
 * sockets there, in the fresh folder). The D-Bus bus, keyrings, the systemd
 * user manager, PipeWire and the like stay out.
 */
function listKeptRuntimeEntries(env: Env, runtime: string, absolute: (path: string) => string): string[] {
  const keep = [join(runtime, 'gnupg')];
  if (env['SSH_AUTH_SOCK']) keep.push(absolute(env['SSH_AUTH_SOCK']));
  const wayland = env['WAYLAND_DISPLAY'];
  if (wayland) keep.push(isAbsolute(wayland) ? wayland : join(runtime, wayland));
  return keep.filter((path) => isInside(path, runtime) && path !== runtime);
}

/** `~` and `~/…` against HOME, relative paths against the working directory. */
export function expandPath(path: string, home: string | undefined, cwd: string): string {
  if ((path === '~' || path.startsWith('~/')) && home) return join(home, path.slice(1));
  return resolve(cwd, path);
}

/** True when `path` is `parent` or lies under it (both absolute and normalised). */
export function isInside(path: string, parent: string): boolean {
  if (parent === '/') return path.startsWith('/');
  return path === parent || path.startsWith(`${parent}/`);
}
