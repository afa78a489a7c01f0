// The files an install consists of, for `reset` (and `restore --force`):
// what to remove, and what to do with the audit log, which outlives the install.
import { closeSync, constants, existsSync, openSync, readdirSync, readSync, renameSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isMissingFileError } from './fs-safe.js';
import type { Paths } from './paths.js';

/** The config, keystore, vault and CA certificate, the JWKS cache, and their locks; the audit log is not among them. */
export function listInstallFiles(paths: Paths): string[] {
  const files = [paths.config, paths.keystore, paths.vault, paths.caCert];
  const found = files.flatMap((file) => [file, `${file}.lock`]).filter((file) => existsSync(file));
  found.push(...listMatching(paths.cacheDir, (name) => /^jwks-[0-9a-f]+\.json$/.test(name)));
  return found;
}

/** The log, its `.state` cache and lock, and the torn fragments moved aside beside it. */
export function listLogFiles(paths: Paths): string[] {
  const log = paths.auditLog;
  const prefix = `${basename(log)}.torn-`;
  return [log, `${log}.state`, `${log}.lock`].filter((file) => existsSync(file)).concat(listMatching(dirname(log), (name) => name.startsWith(prefix)));
}

function listMatching(dir: string, test: (name: string) => boolean): string[] {
  try {
    return readdirSync(dir)
      .filter(test)
      .map((name) => join(dir, name));
  } catch (error) {
    if (isMissingFileError(error)) return [];
    throw error;
  }
}

export function removeFiles(files: string[]): void {
  for (const file of files) {
    // Locks are folders (proper-lockfile).
    if (file.endsWith('.lock')) rmSync(file, { recursive: true, force: true });
    else {
      try {
        unlinkSync(file);
      } catch (error) {
        if (!isMissingFileError(error)) throw error;
      }
    }
  }
}

/**
 * Moves the log out of the way of the next install, which starts its own:
 * `audit.jsonl` becomes `audit-<installId>.jsonl` beside it (its `.state`
 * cache is dropped; it is rebuilt from the log when needed). Returns the new path.
 */
export function setLogAside(paths: Paths, installId: string): string | null {
  if (!existsSync(paths.auditLog)) return null;
  const dir = dirname(paths.auditLog);
  let target = join(dir, `audit-${installId}.jsonl`);
  for (let n = 2; existsSync(target); n += 1) target = join(dir, `audit-${installId}-${n}.jsonl`);
  renameSync(paths.auditLog, target);
  removeFiles([`${paths.auditLog}.state`, `${paths.auditLog}.lock`]);
  return target;
}

/** Removes agentauth's folders that are now empty (AGENTAUTH_HOME's cache/ included); a folder still holding something stays. */
export function removeEmptyFolders(paths: Paths): void {
  for (const dir of [paths.cacheDir, paths.configDir, paths.dataDir, paths.stateDir]) {
    try {
      rmdirSync(dir);
    } catch {
      // Not empty, already gone, or not ours to remove: all fine.
    }
  }
}

/** The origin the log's first line names, or null when there is no log (or no complete first line). */
export function readLogOrigin(logFile: string): string | null {
  let fd: number;
  try {
    fd = openSync(logFile, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (error) {
    if (isMissingFileError(error)) return null;
    throw error;
  }
  try {
    const head = Buffer.alloc(64 * 1024);
    const length = readSync(fd, head, 0, head.length, 0);
    const end = head.subarray(0, length).indexOf(0x0a);
    if (end === -1) return null;
    const origin = (JSON.parse(head.subarray(0, end).toString('utf8')) as { log?: unknown }).log;
    return typeof origin === 'string' ? origin : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
