// Where agentauth keeps its files: XDG base directories, or everything under
// one folder when AGENTAUTH_HOME is set (tests, containers, portable installs).
import { join } from 'node:path';
import { xdgCache, xdgConfig, xdgData, xdgState } from 'xdg-basedir';
import { usageError } from './errors.js';
import { assertNotSymlink, assertPrivateDir } from './fs-safe.js';

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
}

export type Env = Record<string, string | undefined>;

function requireBase(base: string | undefined, variable: string): string {
  if (!base) {
    throw usageError('NO_HOME', `cannot find a home folder for agentauth's files`, {
      hint: `set HOME, ${variable} or AGENTAUTH_HOME`,
    });
  }
  return base;
}

export function resolvePaths(env: Env): Paths {
  const home = env['AGENTAUTH_HOME'];
  const configDir = home ?? join(requireBase(xdgConfig, 'XDG_CONFIG_HOME'), 'agentauth');
  const dataDir = home ?? join(requireBase(xdgData, 'XDG_DATA_HOME'), 'agentauth');
  const stateDir = home ?? join(requireBase(xdgState, 'XDG_STATE_HOME'), 'agentauth');
  const cacheDir = home ? join(home, 'cache') : join(requireBase(xdgCache, 'XDG_CACHE_HOME'), 'agentauth');
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
  for (const dir of new Set([paths.configDir, paths.dataDir, paths.stateDir])) assertPrivateDir(dir);
  for (const file of [paths.config, paths.keystore, paths.vault, paths.auditLog, `${paths.auditLog}.state`, `${paths.auditLog}.lock`]) assertNotSymlink(file);
}
