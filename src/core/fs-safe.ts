// File helpers that keep private state private and whole: 0700 folders, 0600
// files, atomic replacement, and refusal to trust what other users can change.
//
// A process running as the same user can plant a symbolic link where a
// private file goes, hoping agentauth writes through it (onto a file of its
// choice) or reads a file it controls as if it were ours. Private files are
// therefore opened with O_NOFOLLOW, checked on the open descriptor (no gap
// between the check and the use), and temp files are created with O_EXCL.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { AgentAuthError, keystoreError } from './errors.js';

// 0 where the platform has no such flag (Windows): there is no symlink planting to stop there.
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const READ_FLAGS = constants.O_RDONLY | O_NOFOLLOW;
const TEMP_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW;
// The sticky bit (not in fs.constants): in such a folder only an entry's owner may rename or remove it.
const STICKY = 0o1000;
const APPEND_FLAGS = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | O_NOFOLLOW;

export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * The user agentauth's files must belong to: the uid the process runs as, or
 * undefined where there are none (Windows). main.ts reads it; core is handed it.
 */
export type Owner = number | undefined;

/** Throws when a private file can be read or written by anyone but its owner, or belongs to someone else. */
function assertPrivateStats(file: string, st: Stats, uid: Owner): void {
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(3, '0');
    throw keystoreError('INSECURE_PERMISSIONS', `refusing to read ${file}: its mode is ${mode}, so other users can read or change it`, {
      hint: `chmod 600 '${file}'`,
      details: { file, mode },
    });
  }
  if (uid !== undefined && st.uid !== uid) {
    throw keystoreError('INSECURE_OWNER', `refusing to read ${file}: it belongs to another user (uid ${st.uid})`, {
      hint: `chown $(id -u) '${file}'`,
      details: { file, uid: st.uid },
    });
  }
}

/**
 * Throws when a folder agentauth keeps private files in can be changed by
 * other users (group- or world-writable), or belongs to someone else: they
 * could swap the files in it. A missing folder passes (it is created 0700).
 */
export function assertPrivateDir(dir: string, uid: Owner): void {
  // No POSIX owners or modes to check (Windows reports every folder as 0777).
  if (uid === undefined) return;
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (error) {
    if (isMissingFileError(error)) return;
    throw error;
  }
  if (!st.isDirectory()) {
    throw keystoreError('NOT_A_DIRECTORY', `${dir} should be a folder for agentauth's files, but it is not one`, { hint: `move '${dir}' away, or point AGENTAUTH_HOME elsewhere` });
  }
  if ((st.mode & 0o022) !== 0) {
    const mode = (st.mode & 0o7777).toString(8).padStart(3, '0');
    throw keystoreError('INSECURE_PERMISSIONS', `refusing to use ${dir}: its mode is ${mode}, so other users can replace the files in it`, {
      hint: `chmod 700 '${dir}'`,
      details: { file: dir, mode },
    });
  }
  if (st.uid !== uid) {
    throw keystoreError('INSECURE_OWNER', `refusing to use ${dir}: it belongs to another user (uid ${st.uid})`, {
      hint: `chown $(id -u) '${dir}' (or point AGENTAUTH_HOME at a folder of your own)`,
      details: { file: dir, uid: st.uid },
    });
  }
  // Whoever can write to the folder above can rename ours away and put theirs in its place,
  // unless the sticky bit (as on /tmp) keeps them to their own entries.
  const parent = dirname(dir);
  if (parent !== dir) {
    const above = statSync(parent);
    if ((above.mode & 0o002) !== 0 && (above.mode & STICKY) === 0) {
      throw keystoreError('INSECURE_PERMISSIONS', `refusing to use ${dir}: the folder above it (${parent}) is writable by every user`, {
        hint: `chmod o-w '${parent}', or keep agentauth's files elsewhere (AGENTAUTH_HOME)`,
        details: { file: parent },
      });
    }
  }
}

function symlinkError(file: string, cause: unknown): AgentAuthError {
  return keystoreError('SYMLINK_REFUSED', `refusing to use ${file}: it is a symbolic link, and agentauth never reads or writes its own files through one (something may have planted it)`, {
    hint: `look at it (ls -l '${file}'), remove the link, and restore the real file from a backup if it was moved`,
    details: { file },
    cause,
  });
}

/** Throws when `path` is a symbolic link (a missing path passes). */
export function assertNotSymlink(path: string): void {
  let isLink = false;
  try {
    isLink = lstatSync(path).isSymbolicLink();
  } catch (error) {
    if (!isMissingFileError(error)) throw error;
  }
  if (isLink) throw symlinkError(path, undefined);
}

function isSymlinkError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  // Linux and macOS say ELOOP for O_NOFOLLOW on a link; FreeBSD says EMLINK.
  return code === 'ELOOP' || code === 'EMLINK';
}

/**
 * Opens a file of ours: never through a symbolic link, and (given `check`, a
 * private file) refused unless only its owner, that user, can read or change
 * it. Returns null when it does not exist.
 */
function openOwnFile(file: string, flags: number, mode: number, check: { owner: Owner } | null): number | null {
  let fd: number;
  try {
    fd = openSync(file, flags, mode);
  } catch (error) {
    if (isMissingFileError(error)) return null;
    if (isSymlinkError(error)) throw symlinkError(file, error);
    if (isPermissionError(error)) throw unreadableError(file, error);
    throw error;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw keystoreError('NOT_A_FILE', `${file} should be a regular file, but it is not one`, { hint: `move '${file}' away (ls -l '${file}')`, details: { file } });
    if (check) assertPrivateStats(file, st, check.owner);
    return fd;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function unreadableError(file: string, cause: unknown): AgentAuthError {
  return keystoreError('UNREADABLE_FILE', `cannot read ${file}: permission denied`, {
    hint: `check the owner and mode of '${file}' (ls -l '${file}')`,
    cause,
  });
}

/** Reads a private file of ours, or returns null when it does not exist. */
export function readPrivateFile(file: string, owner: Owner): Buffer | null {
  return readAndClose(openOwnFile(file, READ_FLAGS, 0, { owner }));
}

function readAndClose(fd: number | null): Buffer | null {
  if (fd === null) return null;
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a file the user pointed us at that holds a secret (a passphrase
 * file): symbolic links are followed, since the user chose the path, but the
 * file itself must be private. Returns null when it does not exist.
 */
export function readUserSecretFile(file: string, owner: Owner): Buffer | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    if (isMissingFileError(error)) return null;
    throw error;
  }
  try {
    assertPrivateStats(file, fstatSync(fd), owner);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return readAndClose(fd);
}

/** Reads a cache or side file of ours (no secrets in it) without following a link; null when missing. */
export function readOwnFile(file: string): Buffer | null {
  return readAndClose(openOwnFile(file, READ_FLAGS, 0, null));
}

/** Opens (creating it 0600) a file of ours to append to, never through a link. */
export function openOwnFileForAppend(file: string): number {
  return openOwnFile(file, APPEND_FLAGS, 0o600, null) as number;
}

export interface AtomicWriteOptions {
  /** Default 0600; the file gets exactly this mode, whatever the umask (a public 0644 file must stay readable). */
  mode?: number;
  /**
   * Default true: fsync the file before the rename and the folder after, so
   * the new content survives a crash. A cache that is checked before use and
   * rebuilt when wrong (the audit log's `.state`) passes false: it is written
   * on every append, and two more fsyncs there would cost more than the log's own.
   */
  durable?: boolean;
}

/**
 * Replaces `file` atomically: a reader sees the old or the new content, never
 * half of one, even after a crash (data fsynced before the rename, the folder
 * after). The temp file is created with O_EXCL|O_NOFOLLOW, so nothing planted
 * at its name is written through; the rename replaces a link, never follows it.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const dir = dirname(file);
  ensurePrivateDir(dir);
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const mode = options.mode ?? 0o600;
  const durable = options.durable ?? true;
  const fd = openSync(tmp, TEMP_FLAGS, mode);
  let written = false;
  try {
    fchmodSync(fd, mode);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    if (durable) fsyncSync(fd);
    written = true;
  } finally {
    closeSync(fd);
    if (!written) unlinkSync(tmp);
  }
  renameSync(tmp, file);
  if (durable) fsyncDir(dir);
}

/** A private file (0600), replaced atomically. */
export function writePrivateFileAtomic(file: string, data: string | Uint8Array): void {
  writeFileAtomic(file, data);
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

/** Whether something (a link included, never followed) is at `path`. */
export function existsNoFollow(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    if (isMissingFileError(error)) return false;
    throw error;
  }
}

export function isMissingFileError(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

function isPermissionError(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'EACCES' || code === 'EPERM';
}
