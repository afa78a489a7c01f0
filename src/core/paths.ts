// Where agentauth keeps its files: XDG base directories, or everything under
// one folder when AGENTAUTH_HOME is set (tests, containers, portable installs).
import { isAbsolute, join } from 'node:path';
import { usageError } from './errors.js';
import { assertNotSymlink, assertPrivateDir, type Owner } from './fs-safe.js';

export interface Paths {
  configDir: string;
  dataDir: string;
  stateDir: string;
  cacheDir: string;
  config: string;
  keystore: string;
  vault: string;
  caCert: string;
  auditLog: string;
  /** The user these files must belong to (fs-safe.ts refuses others'). */
  owner: Owner;
}

export type Env = Record<string, string | undefined>;

export interface XdgDirs {
  config: string | undefined;
  data: string | undefined;
  state: string | undefined;
  cache: string | undefined;
}

/**
 * The XDG base directories from `env` alone (the XDG Base Directory spec): a
 * variable when it holds an absolute path, else its default under HOME.
 * `home` stands in for HOME when the environment has none.
 */
export function resolveXdgDirs(env: Env, home: string | undefined = env['HOME']): XdgDirs {
  const base = (variable: string, ...fallback: string[]): string | undefined => {
    const value = env[variable];
    // The spec: relative paths are invalid and are ignored.
    if (value && isAbsolute(value)) return value;
    return home ? join(home, ...fallback) : undefined;
  };
  return {
    config: base('XDG_CONFIG_HOME', '.config'),
    data: base('XDG_DATA_HOME', '.local', 'share'),
    state: base('XDG_STATE_HOME', '.local', 'state'),
    cache: base('XDG_CACHE_HOME', '.cache'),
  };
}

function requireBase(base: string | undefined, variable: string): string {
  if (!base) {
    throw usageError('NO_HOME', `cannot find a home folder for agentauth's files`, {
      hint: `set HOME, ${variable} or AGENTAUTH_HOME`,
    });
  }
  return base;
}

/** Where every file lives, from `env` (and `home` for a missing HOME): nothing is read from the process. */
export function resolvePaths(env: Env, owner: Owner, home?: string): Paths {
  const own = env['AGENTAUTH_HOME'];
  const xdg = resolveXdgDirs(env, env['HOME'] || home);
  const configDir = own ?? join(requireBase(xdg.config, 'XDG_CONFIG_HOME'), 'agentauth');
  const dataDir = own ?? join(requireBase(xdg.data, 'XDG_DATA_HOME'), 'agentauth');
  const stateDir = own ?? join(requireBase(xdg.state, 'XDG_STATE_HOME'), 'agentauth');
  const cacheDir = own ? join(own, 'cache') : join(requireBase(xdg.cache, 'XDG_CACHE_HOME'), 'agentauth');
  return {
    configDir,
    dataDir,
    stateDir,
    cacheDir,
    config: join(configDir, 'config.json'),
    keystore: join(dataDir, 'keystore.jwe'),
    vault: join(dataDir, 'vault.json'),
    caCert: join(dataDir, 'ca.pem'),
    auditLog: env['AGENTAUTH_AUDIT_LOG'] || join(stateDir, 'audit.jsonl'),
    owner,
  };
}

/**
 * Refuses folders of ours that other users could change (group- or
 * world-writable, or someone else's): they could swap the config, the
 * keystore or the log under us; and symbolic links planted where our files
 * go. Checked before any state is read or written, so that a command refuses
 * before it acts rather than halfway.
 */
export function assertSafeHome(paths: Paths): void {
  for (const dir of new Set([paths.configDir, paths.dataDir, paths.stateDir])) assertPrivateDir(dir, paths.owner);
  for (const file of [paths.config, paths.keystore, paths.vault, paths.auditLog, `${paths.auditLog}.state`, `${paths.auditLog}.lock`]) assertNotSymlink(file);
}
