// Files and folders the user named (a flag's value, AGENTAUTH_HOME, …). A
// missing or unreadable one is the user's to fix, so it is reported as such,
// naming the path and where it came from, never as a bug in agentauth.
import { readFileSync } from 'node:fs';
import { notFoundError, usageError, type AgentAuthError, type ErrorOptions } from './errors.js';

const NOT_FOUND = new Set(['ENOENT', 'ENOTDIR']);
const UNUSABLE: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'it is a folder, not a file',
};

/**
 * Reads a file the user named with `flag` (`--trusted`, `--jwks`, …). Missing:
 * not found (exit 3); unreadable or a folder: usage (exit 2).
 */
export function readUserFile(path: string, flag: string, options: { hint?: string } = {}): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw userPathError(error, path, flag, options.hint) ?? error;
  }
}

/**
 * The error to report for a file-system failure on a path the user gave (or a
 * path inside it), or null when it is not one of the failures a user fixes.
 */
export function userPathError(error: unknown, path: string, source: string, hint?: string): AgentAuthError | null {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === undefined) return null;
  const failed = (error as NodeJS.ErrnoException).path ?? path;
  const options: ErrorOptions = { cause: error, details: { path: failed }, ...(hint ? { hint } : {}) };
  const where = failed === path ? `${path} (from ${source})` : `${failed} (inside ${path}, from ${source})`;
  if (NOT_FOUND.has(code)) {
    return notFoundError('USER_FILE_NOT_FOUND', code === 'ENOTDIR' ? `${where} does not exist: part of it is not a folder` : `${where} does not exist`, options);
  }
  const why = UNUSABLE[code];
  return why === undefined ? null : usageError('USER_FILE_UNREADABLE', `cannot use ${where}: ${why}`, options);
}
