// File helpers that keep private state private and whole: 0700 folders, 0600
// files, atomic replacement, and refusal to trust files other users can read.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { AgentAuthError, ExitCode, keystoreError } from './errors.js';

export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Throws when a private file can be read or written by anyone but its owner. */
export function assertPrivateFile(file: string): void {
  const st = statSync(file);
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
    throw keystoreError('INSECURE_PERMISSIONS', `refusing to read ${file}: its mode is ${mode}, so other users can read or change it`, {
      hint: `chmod 600 '${file}'`,
      details: { file, mode },
    });
  }
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw keystoreError('INSECURE_OWNER', `refusing to read ${file}: it belongs to another user (uid ${st.uid})`, {
      hint: `chown $(id -u) '${file}'`,
      details: { file, uid: st.uid },
    });
  }
}

/** Reads a private file, or returns null when it does not exist. */
export function readPrivateFile(file: string): Buffer | null {
  try {
    assertPrivateFile(file);
    return readFileSync(file);
  } catch (error) {
    if (isMissingFileError(error)) return null;
    if (isPermissionError(error)) {
      throw new AgentAuthError('UNREADABLE_FILE', ExitCode.keystore, `cannot read ${file}: permission denied`, {
        hint: `check the owner and mode of '${file}' (ls -l '${file}')`,
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * Replaces `file` atomically: a reader sees the old or the new content, never
 * half of one, even after a crash (data fsynced before the rename, the folder after).
 */
export function writePrivateFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = dirname(file);
  ensurePrivateDir(dir);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(tmp);
    throw error;
  }
  closeSync(fd);
  renameSync(tmp, file);
  fsyncDir(dir);
}

export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function isMissingFileError(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

export function isPermissionError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'EACCES' || code === 'EPERM';
}
