// Appending to the audit log. Every append holds the log's exclusive lock
// across read-tail → write → fsync so that concurrent writers never fork the
// chain; O_APPEND alone would interleave but could not agree on `prev`/`seq`.
//
// What the writer needs to know about the log's end is cached in `<log>.state`
// (tail-state.ts); before it signs a checkpoint it checks the log itself
// (vouch.ts), and signs nothing when the log is not what it wrote.
import { closeSync, fstatSync, fsync, fsyncSync, ftruncateSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { AgentAuthError, checkFailedError, usageError, notFoundError, internalError, keystoreError } from '../errors.js';
import { existsNoFollow, fsyncDir, openOwnFileForAppend, writeFileAtomic } from '../fs-safe.js';
import { withFileLock } from '../lock.js';
import { DEFAULT_CADENCE, isCheckpointDue, type CheckpointCadence } from './cadence.js';
import { prepareEvent, serializeCheckpoint, serializeEventTail, type AuditEventInput, type PreparedEvent } from './event.js';
import { readInto } from './line-chunks.js';
import type { LogSigner } from './log-key.js';
import { hashFramedLeaf, hashLeaf } from './merkle.js';
import { signCheckpointNote } from './note.js';
import { finishInterruptedRotation, followRotation, startNewSegment, type Seal } from './rotate.js';
import { isSealedSegmentName, readSegmentHead } from './segments.js';
import { loadTailState, parseLine, readLineFrom, saveTailState, sha256Hex, type TailState } from './tail-state.js';
import { createWriterMemory, REWRITTEN_KIND, vouchForLog, type WriterMemory } from './vouch.js';

export { stateFileFor } from './tail-state.js';

const LF_BYTE = Buffer.from('\n');
const YIELD_EVERY = 32;

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
  signer?: (() => Promise<LogSigner | undefined> | LogSigner | undefined) | undefined;
  /** Who the events the writer adds itself (log.recover, log.init for a log that vanished, log.rewritten) are attributed to (default: the first event's actor). */
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
  checkpointEvery?: CheckpointCadence;
  /** Seal the log and start a new segment now (`audit rotate`); needs a signer. */
  rotate?: boolean;
  /** Start a new segment once the live file reaches this many bytes (`audit.rotate-bytes`); deferred, like a checkpoint, when nobody can sign. */
  rotateBytes?: number;
}

export interface AppendResult {
  /** Seqs of the caller's events (not counting log.init / log.recover added by the writer). */
  seqs: number[];
  /** Events in the log after this append. */
  size: number;
  checkpoint?: { size: number; root: string; note: string };
  recovered?: { offset: number; length: number; sha256: string; file: string };
  /** A checkpoint was due but the log could not be vouched for: nothing was signed. */
  refused?: AgentAuthError;
  /** With forceCheckpoint: the checkpoint that covers every event now, new or already there. */
  head?: { size: number; root: string };
  /** The log was sealed and a new segment started: where the sealed one went, and its final checkpoint. */
  rotated?: { sealed: string; segment: number; size: number; root: string };
}

export function tornFileFor(logFile: string, offset: number): string {
  return `${logFile}.torn-${offset}`;
}

/** A sidecar name no earlier fragment took: after a rotation a new segment's fragment can sit at the same offset as an old one's. */
function freeTornFileFor(logFile: string, offset: number): string {
  let name = tornFileFor(logFile, offset);
  for (let n = 2; existsNoFollow(name); n += 1) name = `${tornFileFor(logFile, offset)}-${n}`;
  return name;
}

/** One-shot append (the CLI path): lock, append, fsync, unlock. Throws, after appending, when a due checkpoint was refused. */
export async function appendEvents(file: string, events: AuditEventInput[], options: AppendOptions): Promise<AppendResult> {
  // Serialised (and validated) before the lock is taken.
  const prepared = events.map(prepareEvent);
  const result = await withFileLock(file, () => appendLocked(file, prepared, options, createWriterMemory()));
  if (result.refused) throw result.refused;
  return result;
}

/** The body of an append; the caller holds the lock. `memory` carries what this process knows from its earlier appends. */
export async function appendLocked(file: string, events: readonly PreparedEvent[], options: AppendOptions, memory: WriterMemory): Promise<AppendResult> {
  if (isSealedSegmentName(file)) {
    throw usageError('AUDIT_SEGMENT_SEALED', `${file} is a sealed segment of a rotated audit log: nothing is appended to it`, { hint: 'append to the live log (audit.jsonl) beside it' });
  }
  // A rotation a crash interrupted is finished before anything is appended.
  finishInterruptedRotation(file);
  const created = !existsNoFollow(file);
  const fd = openOwnFileForAppend(file);
  try {
    if (created) fsyncDir(dirname(file));
    const stat = fstatSync(fd);
    const size = stat.size;
    let state = loadTailState(file, fd, size, memory.state);
    if (state.origin !== null && state.origin !== options.origin) {
      throw usageError('AUDIT_ORIGIN_MISMATCH', `the audit log ${file} belongs to ${state.origin}, not to this install (${options.origin})`, {
        hint: 'point --log / AGENTAUTH_AUDIT_LOG at this install’s log',
      });
    }
    const rewrittenBeforeRotation = await followRotationIfAny(file, fd, stat, state, options, memory);
    // Only a writer that may sign needs to remember what it wrote.
    const remember = options.signer !== undefined && memory.refusal === null;
    if (remember && memory.firstLeaf === null && state.events > 0) memory.firstLeaf = readFirstLeaf(fd, state.bytes);

    const now = options.now ?? (() => new Date());
    const logJson = JSON.stringify(options.origin);
    const out: Buffer[] = [];
    let outBytes = 0;
    const seqs: number[] = [];
    let seq = state.events;
    let lastLeaf = state.lastLeaf;
    let lastLeafBytes: Buffer | null = lastLeaf === null ? null : Buffer.from(lastLeaf, 'hex');
    let lastTs = state.lastTs;
    let lastEventAt = state.lastEventAt;
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
      const tail = serializeEventTail(logJson, lastLeaf, seq, stamp);
      const framed = Buffer.allocUnsafe(1 + event.head.length + Buffer.byteLength(tail));
      framed[0] = 0;
      event.head.copy(framed, 1);
      framed.write(tail, 1 + event.head.length, 'utf8');
      const leaf = hashFramedLeaf(framed);
      const line = framed.subarray(1);
      if (remember) memory.own.add(seq, state.bytes + outBytes, line, leaf, lastLeafBytes);
      lastLeafBytes = leaf;
      if (seq === 0) {
        anchorTs = stamp;
        // Only the first log this process wrote to: a log.init for a log that replaced it does not count.
        if (remember) memory.firstLeaf ??= leaf.toString('hex');
      }
      lastLeaf = leaf.toString('hex');
      lastTs = stamp;
      lastEventAt = state.bytes + outBytes;
      if (mine) seqs.push(seq);
      seq += 1;
      out.push(line, LF_BYTE);
      outBytes += line.length + 1;
    };

    let recovered: AppendResult['recovered'];
    if (state.bytes < size) {
      // An unterminated last line: a writer died mid-write. Keep its bytes in a
      // sidecar, cut the log back to the last complete line, and say so in the chain.
      recovered = moveTornTail(file, fd, state.bytes, size);
      push(prepareEvent({ kind: 'log.recover', actor: options.recoverActor ?? events[0]?.actor ?? { sub: 'agentauth' }, data: { file: basename(recovered.file), length: recovered.length, offset: recovered.offset, sha256: recovered.sha256 } }), false);
    }
    if (seq === 0 && events[0]?.kind !== 'log.init') {
      if (!options.vkey) {
        throw notFoundError('AUDIT_LOG_MISSING', `the audit log ${file} is empty and does not start with log.init`, { hint: 'run: agentauth init' });
      }
      push(prepareEvent({ kind: 'log.init', actor: options.recoverActor ?? events[0]?.actor ?? { sub: 'agentauth' }, data: { origin: options.origin, vkey: options.vkey } }), false);
    }
    if (rewrittenBeforeRotation) {
      push(prepareEvent({ kind: REWRITTEN_KIND, actor: options.recoverActor ?? events[0]?.actor ?? { sub: 'agentauth' }, data: { missing_seq: rewrittenBeforeRotation.missing, reason: rewrittenBeforeRotation.reason } }), false);
    }
    for (let i = 0; i < events.length; i += 1) {
      const event = events[i]!;
      if (event.kind === 'log.init' && seq !== 0) {
        throw internalError('BAD_AUDIT_EVENT', 'log.init can only be the first event of a log');
      }
      push(event, true);
      // A gateway's batch holds hundreds of events; serialising and hashing them in
      // one go stalled every connection for milliseconds (and left the other core
      // idle meanwhile). Letting I/O in between slices keeps the cost, not the stall.
      if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((resolve) => setImmediate(resolve));
    }

    let checkpoint: AppendResult['checkpoint'];
    let refused: AgentAuthError | undefined;
    let checkpointSize = state.checkpointSize;
    let anchor = state.anchor;
    let checkpointLine: Buffer | null = null;
    // The checkpoint that ends the log when it is sealed for a rotation.
    let seal: Seal | null = null;
    let signer: LogSigner | undefined;
    const uncovered = seq - checkpointSize;
    const rotate = options.rotate === true || (options.rotateBytes !== undefined && state.bytes + outBytes >= options.rotateBytes);
    const due = uncovered > 0 && (options.forceCheckpoint === true || rotate || isCheckpointDue(uncovered, now().getTime(), anchorTs === null ? null : Date.parse(anchorTs), options.checkpointEvery ?? DEFAULT_CADENCE));
    if ((due || rotate) && options.signer) {
      signer = await options.signer();
      if (signer) {
        const vouch = memory.refusal ? null : vouchForLog({ fd, file, end: state.bytes, pending: Buffer.concat(out, outBytes), cachedAnchor: state.anchor, memory, vkey: signer.vkey });
        if (vouch?.ok && !due) {
          // Nothing new to sign: the log already ends with the checkpoint of every event, which the check just verified.
          seal = { size: seq, root: vouch.frontier.root().toString('hex'), note: readLastCheckpoint(fd, state).note };
        } else if (vouch?.ok) {
          const root = vouch.frontier.root();
          const note = signCheckpointNote(signer, seq, root);
          checkpointLine = Buffer.from(serializeCheckpoint({ kind: 'checkpoint', log: options.origin, note, root: root.toString('hex'), size: seq, v: 1 }), 'utf8');
          checkpoint = { size: seq, root: root.toString('hex'), note };
          seal = checkpoint;
          checkpointSize = seq;
          anchorTs = lastTs;
          anchor = { offset: state.bytes + outBytes, size: seq, frontier: vouch.frontier.hashes.map((hash) => hash.toString('hex')) };
          memory.anchor = anchor;
          memory.own.clear();
        } else {
          if (vouch && !memory.refusal) {
            memory.refusal = refusalError(file, vouch.reason);
            memory.own.clear();
            // Our own events are gone from the log we wrote them to (not from a log that
            // replaced it): say so in the log itself, so that no later writer signs over it.
            if (vouch.missing !== null && memory.firstLeaf !== null && currentFirstLeaf(fd, state.bytes, out) === memory.firstLeaf) {
              push(prepareEvent({ kind: REWRITTEN_KIND, actor: options.recoverActor ?? events[0]?.actor ?? { sub: 'agentauth' }, data: { missing_seq: vouch.missing, reason: vouch.reason } }), false);
            }
          }
          refused = memory.refusal as AgentAuthError;
        }
      }
    }

    if (checkpointLine) {
      out.push(checkpointLine, LF_BYTE);
      outBytes += checkpointLine.length + 1;
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
      v: state.v,
      origin: options.origin,
      bytes: state.bytes + outBytes,
      tailLen: finalLine ? finalLine.length + 1 : state.tailLen,
      tailHash: finalLine ? sha256Hex(Buffer.concat([finalLine, LF_BYTE])) : state.tailHash,
      events: seq,
      lastEventAt,
      lastLeaf,
      lastTs,
      checkpointSize,
      anchorTs,
      anchor,
    };
    state = next;
    memory.state = next;
    memory.file = { dev: stat.dev, ino: stat.ino };
    let rotated: AppendResult['rotated'];
    if (rotate && seal && signer) {
      const started = startNewSegment({ file, fd, end: next.bytes, seal, origin: options.origin, vkey: signer.vkey, signer, actor: options.recoverActor ?? events[0]?.actor ?? { sub: 'agentauth' }, now: now() });
      rotated = { sealed: started.sealed, segment: started.segment, size: seal.size, root: seal.root };
      // The events this process wrote are covered by the seal: it starts afresh on the new segment.
      startMemoryOnNewSegment(file, memory);
    } else if (options.rotate === true && !refused) {
      throw keystoreError('AUDIT_ROTATE_NEEDS_KEY', `cannot rotate ${file}: sealing it needs the log key`, { hint: 'run agentauth audit rotate (it unlocks the keystore)' });
    }
    if (options.saveState !== false || rotated) saveTailState(file, memory.state ?? next);
    const result: AppendResult = { seqs, size: seq };
    if (checkpoint) result.checkpoint = checkpoint;
    if (checkpoint) result.head = { size: checkpoint.size, root: checkpoint.root };
    else if (options.forceCheckpoint === true && seq > 0 && checkpointSize === seq && !refused) {
      const last = readLastCheckpoint(fd, state);
      result.head = { size: last.size, root: last.root };
    }
    if (recovered) result.recovered = recovered;
    if (refused) result.refused = refused;
    if (rotated) result.rotated = rotated;
    return result;
  } finally {
    closeSync(fd);
  }
}

/**
 * A long-running writer whose file was rotated by another process since its
 * last append vouches for its own events in the sealed segment (rotate.ts)
 * and starts afresh on the new one. Returns what to record when its events
 * are gone from the sealed segment: the new segment continues a rewritten
 * log, and is marked so that no writer signs over it.
 */
async function followRotationIfAny(file: string, fd: number, stat: { dev: number; ino: number }, state: TailState, options: AppendOptions, memory: WriterMemory): Promise<{ missing: number; reason: string } | null> {
  // Another inode, or (inode numbers are reused at once on many filesystems) another first line.
  const moved =
    memory.file !== null &&
    (memory.file.dev !== stat.dev || memory.file.ino !== stat.ino || (memory.firstLeaf !== null && state.events > 0 && readFirstLeaf(fd, state.bytes) !== memory.firstLeaf));
  if (!moved || memory.refusal !== null) return null;
  if (memory.anchor === null && memory.own.length === 0) {
    // Nothing of ours to vouch for; a new segment is still the log this process writes to now.
    if (readSegmentHead(readLineFrom(fd, 0, state.bytes))?.previous) memory.firstLeaf = null;
    return null;
  }
  const vkey = (await options.signer?.())?.vkey ?? options.vkey;
  const followed = vkey ? followRotation(file, fd, state.bytes, memory, vkey) : { ok: false as const, reason: 'no verifier key to check the sealed segment with', missing: null };
  // Not a rotation (the log was replaced): the usual check refuses it before anything is signed.
  if (followed === null) return null;
  memory.own.clear();
  memory.anchor = null;
  memory.firstLeaf = null;
  if (followed.ok) return null;
  memory.refusal = refusalError(file, followed.reason);
  return followed.missing === null ? null : { missing: followed.missing, reason: followed.reason };
}

/** After this process rotated the log itself: what it knows is the new segment's. */
function startMemoryOnNewSegment(file: string, memory: WriterMemory): void {
  const fd = openOwnFileForAppend(file);
  try {
    const stat = fstatSync(fd);
    const state = loadTailState(file, fd, stat.size, null);
    // The new segment is a log.init and its checkpoint of size 1, both written by this process.
    const anchor = state.lastLeaf === null ? null : { offset: state.bytes - state.tailLen, size: 1, frontier: [state.lastLeaf] };
    memory.state = { ...state, anchor };
    memory.anchor = anchor;
    memory.own.clear();
    memory.firstLeaf = state.lastLeaf;
    memory.file = { dev: stat.dev, ino: stat.ino };
  } finally {
    closeSync(fd);
  }
}

/** The checkpoint the log ends with (the caller knows it ends with one; a reader verifies it before relying on it). */
function readLastCheckpoint(fd: number, state: TailState): { size: number; root: string; note: string } {
  const line = readLineFrom(fd, state.bytes - state.tailLen, state.bytes);
  const last = line ? parseLine(line) : null;
  const { size, root, note } = last ?? {};
  if (last?.['kind'] !== 'checkpoint' || typeof size !== 'number' || typeof root !== 'string' || typeof note !== 'string') {
    throw checkFailedError('AUDIT_TAIL_NOT_CHECKPOINT', 'the audit log does not end with a checkpoint');
  }
  return { size, root, note };
}

function refusalError(file: string, reason: string): AgentAuthError {
  return checkFailedError('AUDIT_CHECKPOINT_REFUSED', `refused to sign an audit checkpoint for ${file}: ${reason}. Nothing was signed: the events since the last checkpoint stay uncovered, and 'agentauth audit verify --strict' fails`, {
    hint: `keep the log as evidence and compare it with a checkpoint kept elsewhere (agentauth audit verify --strict --trusted FILE); to start a new log, move ${file} aside`,
  });
}


function readFirstLeaf(fd: number, end: number): string | null {
  const line = readLineFrom(fd, 0, end);
  return line ? hashLeaf(line).toString('hex') : null;
}

/** The leaf hash of the log's first line: in the file, or the first line about to be written to an empty one. */
function currentFirstLeaf(fd: number, end: number, out: readonly Buffer[]): string | null {
  if (end > 0) return readFirstLeaf(fd, end);
  const first = out[0];
  return first ? hashLeaf(first).toString('hex') : null;
}

function writeAll(fd: number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (error) => (error ? reject(error) : resolve())));
}

function moveTornTail(file: string, fd: number, offset: number, size: number): NonNullable<AppendResult['recovered']> {
  const fragment = Buffer.alloc(size - offset);
  readInto(fd, fragment, 0, fragment.length, offset);
  const sidecar = freeTornFileFor(file, offset);
  writeFileAtomic(sidecar, fragment);
  ftruncateSync(fd, offset);
  fsyncSync(fd);
  return { offset, length: fragment.length, sha256: sha256Hex(fragment), file: sidecar };
}

