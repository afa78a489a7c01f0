// What a writer must know about the end of the log to append to it (the next
// seq, the last leaf hash for `prev`, where the last complete line ends), and
// the `<log>.state` file that caches it so appends do not re-read the log.
//
// The cache is untrusted: it is used only after its claims are checked
// against the log's bytes (the last line and the last event line are read
// back and hashed), extended by a scan of whatever was appended after it, and
// rebuilt by one scan when it is missing or wrong. It never decides what is
// signed: the writer checks the log itself before signing (vouch.ts); the
// `anchor` it records is only where that check may start.
import { createHash } from 'node:crypto';
import { isMissingFileError, readOwnFile, writeFileAtomic } from '../fs-safe.js';
import { CHECKPOINT_PREFIX } from './event.js';
import { forEachLine, readInto } from './line-chunks.js';
import { hashLeaf, popCount } from './merkle.js';

const LF = 0x0a;
const STATE_VERSION = 2;

/** A checkpoint line whose tree is known: the place a check of the log can resume from. */
export interface Anchor {
  /** File offset of the checkpoint line. */
  offset: number;
  /** Events it covers. */
  size: number;
  /** The Merkle frontier of those events (hex), whose root the checkpoint signs. */
  frontier: string[];
}

export interface TailState {
  v: typeof STATE_VERSION;
  origin: string | null;
  /** File offset just after the last complete line. */
  bytes: number;
  /** Length of that last line including its LF (0 for an empty log). */
  tailLen: number;
  /** SHA-256 (hex) of that line including its LF. */
  tailHash: string;
  events: number;
  /** File offset of the last event's line (-1 when there is none). */
  lastEventAt: number;
  lastLeaf: string | null;
  lastTs: string | null;
  /** Events covered by the last checkpoint line. */
  checkpointSize: number;
  /** `ts` of the last event the last checkpoint covers (or of seq 0): the clock for hourly checkpoints. */
  anchorTs: string | null;
  anchor: Anchor | null;
}

export function stateFileFor(logFile: string): string {
  return `${logFile}.state`;
}

function emptyState(): TailState {
  return { v: STATE_VERSION, origin: null, bytes: 0, tailLen: 0, tailHash: '', events: 0, lastEventAt: -1, lastLeaf: null, lastTs: null, checkpointSize: 0, anchorTs: null, anchor: null };
}

/** The state the log's bytes agree with: `cached` when it still holds, else the `.state` file's, else a scan; then extended to `size`. */
export function loadTailState(file: string, fd: number, size: number, cached: TailState | null): TailState {
  const state = (cached && checkTailState(fd, cached, size)) ?? readStateFile(file, fd, size) ?? emptyState();
  return state.bytes < size ? scanForward(fd, state, size) : state;
}

function readStateFile(file: string, fd: number, size: number): TailState | null {
  const raw = readOwnFile(stateFileFor(file));
  if (raw === null) return null;
  try {
    return checkTailState(fd, JSON.parse(raw.toString('utf8')) as TailState, size);
  } catch (error) {
    if (isMissingFileError(error)) return null;
    // Torn, hand-edited or from another version: rebuilt by a scan.
    return null;
  }
}

/** Writes the `.state` cache (atomically, not fsynced: a crash leaves it stale or torn, which is noticed); the caller holds the log lock. */
export function saveTailState(file: string, state: TailState): void {
  writeFileAtomic(stateFileFor(file), `${JSON.stringify(state)}\n`, { durable: false });
}

/** Returns `state` when the log's bytes still say what it claims, else null. */
function checkTailState(fd: number, state: TailState, size: number): TailState | null {
  if (state.v !== STATE_VERSION || !isOffset(state.bytes) || state.bytes > size || !isOffset(state.tailLen) || state.tailLen > state.bytes || !isOffset(state.events)) return null;
  if (!isOffset(state.checkpointSize) || state.checkpointSize > state.events) return null;
  if (state.anchor !== null && !isAnchor(state.anchor)) return null;
  if (state.bytes === 0) return state.events === 0 && state.lastEventAt === -1 ? state : null;
  if (state.events === 0 || !isOffset(state.lastEventAt) || state.lastEventAt >= state.bytes) return null;
  const tail = readLineAt(fd, state.bytes - state.tailLen, state.tailLen);
  if (!tail || sha256Hex(tail) !== state.tailHash) return null;
  // The last event (the tail line itself, or the one before a checkpoint) must be the one the counters describe.
  const line = state.lastEventAt === state.bytes - state.tailLen ? tail.subarray(0, -1) : readLineFrom(fd, state.lastEventAt, state.bytes);
  if (!line || hashLeaf(line).toString('hex') !== state.lastLeaf) return null;
  const event = parseLine(line);
  if (!event || event['seq'] !== state.events - 1 || event['log'] !== state.origin || event['ts'] !== state.lastTs) return null;
  return state;
}

function isOffset(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isAnchor(anchor: Anchor): boolean {
  return (
    isOffset(anchor.offset) &&
    isOffset(anchor.size) &&
    Array.isArray(anchor.frontier) &&
    anchor.frontier.length === popCount(anchor.size) &&
    anchor.frontier.every((hash) => typeof hash === 'string' && /^[0-9a-f]{64}$/.test(hash))
  );
}

/** The `length` bytes at `offset`, when they are a whole line (LF-terminated, after an LF or at the start). */
function readLineAt(fd: number, offset: number, length: number): Buffer | null {
  if (length === 0) return null;
  const start = offset > 0 ? offset - 1 : 0;
  const buf = Buffer.allocUnsafe(offset - start + length);
  if (readInto(fd, buf, 0, buf.length, start) !== buf.length) return null;
  if (offset > 0 && buf[0] !== LF) return null;
  const line = buf.subarray(offset - start);
  return line[line.length - 1] === LF ? line : null;
}

/** The line (without LF) that starts at `offset` and ends before `limit`, when `offset` starts a line. */
export function readLineFrom(fd: number, offset: number, limit: number): Buffer | null {
  const start = offset > 0 ? offset - 1 : 0;
  // Lines are a few hundred bytes: read a small window, and more only for a long one.
  for (let window = 4096; ; window *= 4) {
    const buf = Buffer.allocUnsafe(Math.min(window, limit - start));
    const got = readInto(fd, buf, 0, buf.length, start);
    if (offset > 0 && (got === 0 || buf[0] !== LF)) return null;
    const lf = buf.indexOf(LF, offset - start);
    if (lf !== -1 && lf < got) return Buffer.from(buf.subarray(offset - start, lf));
    if (start + got >= limit) return null;
  }
}

/** The line (without LF) that ends just before `offset` (which must start a line), and its own offset. */
export function readLineBefore(fd: number, offset: number): { line: Buffer; at: number } | null {
  if (offset < 2) return null;
  let window = 4096;
  for (;;) {
    const start = Math.max(0, offset - 1 - window);
    const buf = Buffer.allocUnsafe(offset - start);
    if (readInto(fd, buf, 0, buf.length, start) !== buf.length || buf[buf.length - 1] !== LF) return null;
    const lf = buf.lastIndexOf(LF, buf.length - 2);
    if (lf >= 0) return { line: Buffer.from(buf.subarray(lf + 1, buf.length - 1)), at: start + lf + 1 };
    if (start === 0) return { line: Buffer.from(buf.subarray(0, buf.length - 1)), at: 0 };
    window *= 4;
  }
}

/**
 * Extends `start` over the complete lines in [start.bytes, size): counts
 * events, notes checkpoints, and reads the last event line. Stops before an
 * unterminated last line. Trusts nothing but line boundaries; what a writer
 * signs is checked separately (vouch.ts).
 */
function scanForward(fd: number, start: TailState, size: number): TailState {
  const state: TailState = { ...start };
  // Offsets only: a line's bytes live in the reader's buffer, which the next chunk reuses.
  let lastEventEnd = -1;
  let tailAt = -1;
  forEachLine(fd, size, state.bytes, (line, at) => {
    tailAt = at;
    if (line.subarray(0, CHECKPOINT_PREFIX.length).toString('latin1') === CHECKPOINT_PREFIX) {
      const checkpointSize = parseLine(line)?.['size'];
      if (isOffset(checkpointSize)) state.checkpointSize = Math.min(checkpointSize, state.events);
      state.anchorTs = lastEventEnd >= 0 ? readTs(readEventLine(fd, state.lastEventAt, lastEventEnd)) : state.lastTs;
    } else {
      if (state.events === 0) {
        const first = parseLine(line);
        state.origin = typeof first?.['log'] === 'string' ? first['log'] : null;
        state.anchorTs = readTs(line);
      }
      state.events += 1;
      state.lastEventAt = at;
      lastEventEnd = at + line.length;
    }
    state.bytes = at + line.length + 1;
  });
  if (tailAt >= 0) {
    const tail = Buffer.allocUnsafe(state.bytes - tailAt);
    readInto(fd, tail, 0, tail.length, tailAt);
    state.tailLen = tail.length;
    state.tailHash = sha256Hex(tail);
  }
  if (lastEventEnd >= 0) {
    const line = readEventLine(fd, state.lastEventAt, lastEventEnd);
    state.lastLeaf = hashLeaf(line).toString('hex');
    state.lastTs = readTs(line);
  }
  return state;
}

function readEventLine(fd: number, at: number, end: number): Buffer {
  const line = Buffer.allocUnsafe(end - at);
  readInto(fd, line, 0, line.length, at);
  return line;
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function parseLine(line: Buffer): Record<string, unknown> | null {
  try {
    const value = JSON.parse(line.toString('utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function readTs(line: Buffer): string | null {
  const ts = parseLine(line)?.['ts'];
  return typeof ts === 'string' ? ts : null;
}
