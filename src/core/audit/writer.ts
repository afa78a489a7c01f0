// Appending to the audit log. Every append holds the log's exclusive lock
// across read-tail → write → fsync so that concurrent writers never fork the
// chain; O_APPEND alone would interleave but could not agree on `prev`/`seq`.
//
// To sign checkpoints we need the Merkle root over ALL events, but re-reading
// the log on every append would make appends O(n). Instead a sidecar file
// `<log>.state` caches the tree's frontier (≤ log2(n) hashes) and the tail.
// It is untrusted: it is used only when its recorded tail still matches the
// log's bytes, extended by scanning whatever was appended after it, and
// rebuilt by one streaming scan when it is missing or stale.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, renameSync, writeSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AgentAuthError, ExitCode } from '../errors.js';
import { fsyncDir, isMissingFileError } from '../fs-safe.js';
import { withFileLock } from '../lock.js';
import { CHECKPOINT_PREFIX, prepareEvent, serializeCheckpoint, serializeEventTail, type AuditEventInput, type PreparedEvent } from './event.js';
import type { LogSigner } from './log-key.js';
import { Frontier, hashFramedLeaf, hashLeaf } from './merkle.js';
import { signCheckpointNote } from './note.js';

/** Automatic checkpoints: after this many uncovered events or this much time, whichever first. */
export const CHECKPOINT_EVERY_EVENTS = 1000;
export const CHECKPOINT_EVERY_MS = 60 * 60 * 1000;

const LF = 0x0a;
const LF_BYTE = Buffer.from('\n');
const YIELD_EVERY = 32;
const SCAN_CHUNK = 1 << 20;

export interface AppendOptions {
  origin: string;
  /** The log's vkey, recorded by the `log.init` that starts a new (or vanished) log. */
  vkey?: string;
  /**
   * Supplies the log key when a checkpoint is due. Called under the lock and
   * only then, so a caller without an unlocked keystore pays nothing. When it
   * is absent or returns undefined the checkpoint is deferred to the next
   * append that can sign (the due condition stays true until then).
   */
  signer?: () => Promise<LogSigner | undefined> | LogSigner | undefined;
  /** Who the events the writer adds itself (log.recover, log.init for a log that vanished) are attributed to (default: the first event's actor). */
  recoverActor?: Record<string, unknown>;
  now?: () => Date;
  /** Force a checkpoint after these events even if none is due (`audit checkpoint`, end of `run`). */
  forceCheckpoint?: boolean;
  /**
   * Write the `.state` cache after this append (default true). A long-running
   * writer that keeps the state in memory saves it now and then instead: a
   * stale cache costs the next process a short scan, never correctness.
   */
  saveState?: boolean;
  checkpointEvery?: { events: number; ms: number };
}

export interface AppendResult {
  /** Seqs of the caller's events (not counting log.init / log.recover added by the writer). */
  seqs: number[];
  /** Events in the log after this append. */
  size: number;
  checkpoint?: { size: number; root: string; note: string };
  recovered?: { offset: number; length: number; sha256: string; file: string };
}

/** The cached view of a log's tail; see the file comment. */
export interface TailState {
  v: 1;
  origin: string | null;
  /** File offset just after the last complete line. */
  bytes: number;
  /** Length of that last line including its LF (0 for an empty log). */
  tailLen: number;
  /** SHA-256 (hex) of that line including its LF. */
  tailHash: string;
  events: number;
  lastLeaf: string | null;
  lastTs: string | null;
  frontier: string[];
  /** Events covered by the last checkpoint. */
  checkpointSize: number;
  /** `ts` of the last event the last checkpoint covers (or of seq 0): the clock for hourly checkpoints. */
  anchorTs: string | null;
}

export function stateFileFor(logFile: string): string {
  return `${logFile}.state`;
}

export function tornFileFor(logFile: string, offset: number): string {
  return `${logFile}.torn-${offset}`;
}

function emptyState(): TailState {
  return { v: 1, origin: null, bytes: 0, tailLen: 0, tailHash: '', events: 0, lastLeaf: null, lastTs: null, frontier: [], checkpointSize: 0, anchorTs: null };
}

/** One-shot append (the CLI path): lock, append, fsync, unlock. */
export async function appendEvents(file: string, events: AuditEventInput[], options: AppendOptions): Promise<AppendResult> {
  // Serialised (and validated) before the lock is taken.
  const prepared = events.map(prepareEvent);
  return withFileLock(file, () => appendLocked(file, prepared, options, null).then((outcome) => outcome.result));
}

/**
 * The body of an append; the caller holds the lock. `cached` is an in-memory
 * state from a previous append by the same process (still validated).
 */
export async function appendLocked(
  file: string,
  events: readonly PreparedEvent[],
  options: AppendOptions,
  cached: TailState | null,
): Promise<{ result: AppendResult; state: TailState }> {
  const created = !existsSync(file);
  const fd = openSync(file, 'a+', 0o600);
  try {
    if (created) fsyncDir(dirname(file));
    const size = fstatSync(fd).size;
    let state = (cached && validateState(fd, cached, size)) ?? loadStateFile(file, fd, size) ?? scanForward(fd, emptyState(), size);
    if (state.bytes < size) state = scanForward(fd, state, size);
    if (state.origin !== null && state.origin !== options.origin) {
      throw new AgentAuthError('AUDIT_ORIGIN_MISMATCH', ExitCode.usage, `the audit log ${file} belongs to ${state.origin}, not to this install (${options.origin})`, {
        hint: 'point --log / AGENTAUTH_AUDIT_LOG at this install’s log',
      });
    }

    const now = options.now ?? (() => new Date());
    const logJson = JSON.stringify(options.origin);
    const frontier = new Frontier(state.events, state.frontier.map((h) => Buffer.from(h, 'hex')));
    const out: Buffer[] = [];
    let outBytes = 0;
    const addLine = (line: Buffer): void => {
      out.push(line, LF_BYTE);
      outBytes += line.length + 1;
    };
    const seqs: number[] = [];
    let lastLeaf = state.lastLeaf;
    let lastTs = state.lastTs;
    let anchorTs = state.anchorTs;
    // Events of one batch mostly share a millisecond: format each distinct one once.
    let stampMs = Number.NaN;
    let stamp = '';
    const push = (event: PreparedEvent, mine: boolean): void => {
      const date = now();
      if (date.getTime() !== stampMs) {
        stampMs = date.getTime();
        stamp = date.toISOString();
      }
      const ts = stamp;
      const seq = frontier.size;
      const tail = serializeEventTail(logJson, lastLeaf, seq, ts);
      const framed = Buffer.allocUnsafe(1 + event.head.length + Buffer.byteLength(tail));
      framed[0] = 0;
      event.head.copy(framed, 1);
      framed.write(tail, 1 + event.head.length, 'utf8');
      const leaf = hashFramedLeaf(framed);
      frontier.append(leaf);
      lastLeaf = leaf.toString('hex');
      lastTs = ts;
      if (seq === 0) anchorTs = ts;
      addLine(framed.subarray(1));
      if (mine) seqs.push(seq);
    };

    let recovered: AppendResult['recovered'];
    if (state.bytes < size) {
      // An unterminated last line: a writer died mid-write. Keep its bytes in a
      // sidecar, cut the log back to the last complete line, and say so in the chain.
      recovered = moveTornTail(file, fd, state.bytes, size);
      push(prepareEvent({ kind: 'log.recover', actor: options.recoverActor ?? events[0]?.actor ?? { sub: 'agentauth' }, data: { file: basename(recovered.file), length: recovered.length, offset: recovered.offset, sha256: recovered.sha256 } }), false);
    }
    if (frontier.size === 0 && events[0]?.kind !== 'log.init') {
      if (!options.vkey) {
        throw new AgentAuthError('AUDIT_LOG_MISSING', ExitCode.notFound, `the audit log ${file} is empty and does not start with log.init`, { hint: 'run: agentauth init' });
      }
      push(prepareEvent({ kind: 'log.init', actor: options.recoverActor ?? events[0]?.actor ?? { sub: 'agentauth' }, data: { origin: options.origin, vkey: options.vkey } }), false);
    }
    for (let i = 0; i < events.length; i += 1) {
      const event = events[i]!;
      if (event.kind === 'log.init' && frontier.size !== 0) {
        throw new AgentAuthError('BAD_AUDIT_EVENT', ExitCode.internal, 'log.init can only be the first event of a log');
      }
      push(event, true);
      // A gateway's batch holds hundreds of events; serialising and hashing them in
      // one go stalled every connection for milliseconds (and left the other core
      // idle meanwhile). Letting I/O in between slices keeps the cost, not the stall.
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((resolve) => setImmediate(resolve));
    }

    let checkpoint: AppendResult['checkpoint'];
    let checkpointSize = state.checkpointSize;
    const every = options.checkpointEvery ?? { events: CHECKPOINT_EVERY_EVENTS, ms: CHECKPOINT_EVERY_MS };
    const uncovered = frontier.size - checkpointSize;
    const due =
      uncovered > 0 &&
      (options.forceCheckpoint === true || uncovered >= every.events || (anchorTs !== null && now().getTime() - Date.parse(anchorTs) >= every.ms));
    if (due && options.signer) {
      const signer = await options.signer();
      if (signer) {
        const root = frontier.root();
        const note = signCheckpointNote(signer, frontier.size, root);
        addLine(Buffer.from(serializeCheckpoint({ kind: 'checkpoint', log: options.origin, note, root: root.toString('hex'), size: frontier.size, v: 1 }), 'utf8'));
        checkpoint = { size: frontier.size, root: root.toString('hex'), note };
        checkpointSize = frontier.size;
        anchorTs = lastTs;
      }
    }

    if (out.length > 0) {
      // The write lands in the page cache at once; the fsync is the slow part, and
      // done asynchronously it does not stall a gateway's requests (the lock is held until it ends).
      writeAll(fd, Buffer.concat(out, outBytes));
      await fsyncAsync(fd);
    }
    // `out` alternates lines and LFs.
    const finalLine = out.length > 0 ? out[out.length - 2]! : null;
    const next: TailState = {
      v: 1,
      origin: options.origin,
      bytes: state.bytes + outBytes,
      tailLen: finalLine ? finalLine.length + 1 : state.tailLen,
      tailHash: finalLine ? sha256Hex(Buffer.concat([finalLine, LF_BYTE])) : state.tailHash,
      events: frontier.size,
      lastLeaf,
      lastTs,
      frontier: frontier.hashes.map((h) => h.toString('hex')),
      checkpointSize,
      anchorTs,
    };
    if (options.saveState !== false) await saveStateFile(file, next);
    const result: AppendResult = { seqs, size: frontier.size };
    if (checkpoint) result.checkpoint = checkpoint;
    if (recovered) result.recovered = recovered;
    return { result, state: next };
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function moveTornTail(file: string, fd: number, offset: number, size: number): NonNullable<AppendResult['recovered']> {
  const fragment = Buffer.alloc(size - offset);
  readFully(fd, fragment, offset);
  const sidecar = tornFileFor(file, offset);
  const tmp = join(dirname(sidecar), `.${basename(sidecar)}.${process.pid}.tmp`);
  const sideFd = openSync(tmp, 'w', 0o600);
  try {
    writeAll(sideFd, fragment);
    fsyncSync(sideFd);
  } finally {
    closeSync(sideFd);
  }
  renameSync(tmp, sidecar);
  fsyncDir(dirname(sidecar));
  ftruncateSync(fd, offset);
  fsyncSync(fd);
  return { offset, length: fragment.length, sha256: sha256Hex(fragment), file: sidecar };
}

function readFully(fd: number, into: Buffer, position: number): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of file at ${position + done}`);
    done += n;
  }
}

/** Returns the state when its recorded tail still matches the file, else null. */
function validateState(fd: number, state: TailState, size: number): TailState | null {
  if (state.v !== 1 || !Number.isSafeInteger(state.bytes) || state.bytes > size || state.tailLen > state.bytes) return null;
  if (state.frontier.length !== popCount(state.events)) return null;
  if (state.bytes === 0) return state.events === 0 ? state : null;
  const tail = Buffer.alloc(state.tailLen);
  readFully(fd, tail, state.bytes - state.tailLen);
  if (tail[tail.length - 1] !== LF || sha256Hex(tail) !== state.tailHash) return null;
  if (state.bytes - state.tailLen > 0) {
    const before = Buffer.alloc(1);
    readFully(fd, before, state.bytes - state.tailLen - 1);
    if (before[0] !== LF) return null;
  }
  // The tail line must agree with the counters too (guards against a stale or hand-edited cache).
  const line = tail.subarray(0, tail.length - 1);
  const value = parseLine(line);
  if (!value) return null;
  if (value['kind'] === 'checkpoint') {
    if (value['size'] !== state.events || value['size'] !== state.checkpointSize) return null;
    const frontier = new Frontier(state.events, state.frontier.map((h) => Buffer.from(h, 'hex')));
    if (value['root'] !== frontier.root().toString('hex')) return null;
  } else if (value['seq'] !== state.events - 1 || hashLeaf(line).toString('hex') !== state.lastLeaf) {
    return null;
  }
  return state;
}

function loadStateFile(file: string, fd: number, size: number): TailState | null {
  let parsed: TailState;
  try {
    parsed = JSON.parse(readFileSync(stateFileFor(file), 'utf8')) as TailState;
  } catch (error) {
    if (!isMissingFileError(error) && !(error instanceof SyntaxError)) throw error;
    return null;
  }
  try {
    return validateState(fd, parsed, size);
  } catch {
    return null;
  }
}

/** Writes the `.state` cache; the caller holds the log lock. */
export async function saveStateFile(file: string, state: TailState): Promise<void> {
  // A cache: no fsync. A stale or torn copy is detected and rebuilt.
  const target = stateFileFor(file);
  const tmp = `${target}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
  await rename(tmp, target);
}

/**
 * Extends `state` over the complete lines in [state.bytes, size): leaf hashes
 * into the frontier, checkpoints noted. Stops before an unterminated last line.
 * This trusts nothing but line boundaries; `audit verify` does the checking.
 */
export function scanForward(fd: number, start: TailState, size: number): TailState {
  const state: TailState = { ...start, frontier: [...start.frontier] };
  const frontier = new Frontier(state.events, state.frontier.map((h) => Buffer.from(h, 'hex')));
  let position = state.bytes;
  let carry: Buffer = Buffer.alloc(0);
  let lastEventLine: Buffer | null = null;
  while (position < size) {
    const chunk = Buffer.allocUnsafe(Math.min(SCAN_CHUNK, size - position));
    readFully(fd, chunk, position);
    position += chunk.length;
    const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
    let lineStart = 0;
    for (let lf = buf.indexOf(LF, 0); lf !== -1; lf = buf.indexOf(LF, lineStart)) {
      const line = buf.subarray(lineStart, lf);
      if (line.subarray(0, CHECKPOINT_PREFIX.length).toString('latin1') === CHECKPOINT_PREFIX) {
        state.checkpointSize = readCheckpointSize(line) ?? state.checkpointSize;
        state.anchorTs = lastEventLine ? readTs(lastEventLine) : state.lastTs;
      } else {
        const leaf = hashLeaf(line);
        if (frontier.size === 0) {
          state.origin = readOrigin(line);
          state.anchorTs = readTs(line);
        }
        frontier.append(leaf);
        state.lastLeaf = leaf.toString('hex');
        lastEventLine = line;
      }
      state.tailLen = lf + 1 - lineStart;
      state.tailHash = sha256Hex(buf.subarray(lineStart, lf + 1));
      state.bytes += state.tailLen;
      lineStart = lf + 1;
    }
    carry = buf.subarray(lineStart);
  }
  if (lastEventLine) state.lastTs = readTs(lastEventLine);
  state.events = frontier.size;
  state.frontier = frontier.hashes.map((h) => h.toString('hex'));
  return state;
}

function parseLine(line: Buffer): Record<string, unknown> | null {
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

function readOrigin(line: Buffer): string | null {
  const log = parseLine(line)?.['log'];
  return typeof log === 'string' ? log : null;
}

function readCheckpointSize(line: Buffer): number | null {
  const size = parseLine(line)?.['size'];
  return typeof size === 'number' && Number.isSafeInteger(size) ? size : null;
}

function popCount(n: number): number {
  let count = 0;
  for (let v = n; v > 0; v = Math.floor(v / 2)) count += v % 2;
  return count;
}
