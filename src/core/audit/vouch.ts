// A writer never signs what it cannot vouch for (audit-log.md, "Writers").
// Before it signs a checkpoint it checks, under the log lock, that the log
// still extends the last checkpoint it can verify, and that every event it
// appended itself since then is still there, byte for byte. Without this, a
// process running as the same user could delete its own events, re-link the
// chain behind them, and have the next checkpoint sign the result.
//
// The check runs the verifier (checker.ts) over the log from a checkpoint
// whose tree is known (an "anchor") to the end, then over the lines about to
// be written. The anchor is one this process wrote or checked itself, or one
// the `.state` cache names; a cached anchor is only a starting point: its
// checkpoint line must verify (signature, size and the root of the cached
// frontier) as the first line of the check, and when anything fails from
// there the whole log is checked from its first line instead. The cache
// never decides what is signed.
import { Checker, type VerifyIssue } from './checker.js';
import { hashLeaf, Frontier } from './merkle.js';
import { LineChunkReader } from './line-chunks.js';
import { createChunkScanner, createScanRecords, type ChunkScanner } from './scan.js';
import { parseLine, readLineBefore, type Anchor, type TailState } from './tail-state.js';

/** The kind of the event a writer leaves when it finds its own events gone: no writer signs over it. */
export const REWRITTEN_KIND = 'log.rewritten';
const REWRITTEN_MARK = Buffer.from(`"kind":"${REWRITTEN_KIND}"`);
const LF = 0x0a;

/**
 * The events this process appended since its anchor: seq, file offset, leaf
 * hash, the `prev` each was written with, and the line's bytes (compared, not
 * re-hashed, when the check finds a line where it was written). Held in flat
 * buffers reused from one checkpoint to the next: a gateway appends thousands
 * of events a second, and per-event objects would pile up in the old generation.
 */
export class OwnEvents {
  private seqs: number[] = [];
  private offsets: number[] = [];
  // Per event: its leaf hash, then the prev it carries (32 bytes each).
  private hashes: Buffer = Buffer.allocUnsafe(64 * 64);
  private lines: Buffer = Buffer.allocUnsafe(64 * 1024);
  private lineEnds: number[] = [];

  get length(): number {
    return this.seqs.length;
  }

  seqAt(index: number): number {
    return this.seqs[index]!;
  }

  offsetAt(index: number): number {
    return this.offsets[index]!;
  }

  /** `line` without its LF. */
  add(seq: number, offset: number, line: Buffer, leaf: Buffer, prev: Buffer | null): void {
    const at = this.seqs.length * 64;
    this.hashes = ensureRoom(this.hashes, at, 64);
    leaf.copy(this.hashes, at);
    if (prev) prev.copy(this.hashes, at + 32);
    else this.hashes.fill(0, at + 32, at + 64);
    const start = this.lineEnds.length > 0 ? this.lineEnds[this.lineEnds.length - 1]! : 0;
    this.lines = ensureRoom(this.lines, start, line.length);
    line.copy(this.lines, start);
    this.lineEnds.push(start + line.length);
    this.seqs.push(seq);
    this.offsets.push(offset);
  }

  leafAt(index: number): Buffer {
    return this.hashes.subarray(index * 64, index * 64 + 32);
  }

  prevAt(index: number): Buffer {
    return this.hashes.subarray(index * 64 + 32, index * 64 + 64);
  }

  matches(index: number, source: Buffer, at: number): boolean {
    return this.hashes.compare(source, at, at + 32, index * 64, index * 64 + 32) === 0;
  }

  /** True when buf[start, end) holds exactly the bytes of event `index`'s line. */
  sameLine(index: number, buf: Buffer, start: number, end: number): boolean {
    const lineStart = index > 0 ? this.lineEnds[index - 1]! : 0;
    const lineEnd = this.lineEnds[index]!;
    return lineEnd - lineStart === end - start && this.lines.compare(buf, start, end, lineStart, lineEnd) === 0;
  }

  clear(): void {
    this.seqs = [];
    this.offsets = [];
    this.lineEnds = [];
  }
}

function ensureRoom(buf: Buffer, used: number, more: number): Buffer {
  if (used + more <= buf.length) return buf;
  const grown = Buffer.allocUnsafe(Math.max(buf.length * 2, used + more));
  buf.copy(grown, 0, 0, used);
  return grown;
}

/** What a writing process remembers between its appends. */
export interface WriterMemory {
  /** The log's tail as of this process's last append (checked again before each use). */
  state: TailState | null;
  /** A checkpoint this process wrote or checked itself: the next check starts there. */
  anchor: Anchor | null;
  own: OwnEvents;
  /** The leaf hash of seq 0 of the log this process writes to: tells a rewritten log from a replaced one. */
  firstLeaf: string | null;
  /** Why this process refused to sign: once refused, it never signs again. */
  refusal: Error | null;
  /** The file (device and inode) this process last appended to: another one under the same name was rotated in or replaced it. */
  file: { dev: number; ino: number } | null;
}

export function createWriterMemory(): WriterMemory {
  return { state: null, anchor: null, own: new OwnEvents(), firstLeaf: null, refusal: null, file: null };
}

export type Vouch =
  | { ok: true; frontier: Frontier }
  | {
      ok: false;
      reason: string;
      /** The first of this process's events that is gone or changed, when that is why. */
      missing: number | null;
    };

export interface VouchInput {
  fd: number;
  file: string;
  /** The end of the log's complete lines. */
  end: number;
  /** The lines about to be appended (each with its LF). */
  pending: Buffer;
  /** The anchor the `.state` cache names (untrusted). */
  cachedAnchor: Anchor | null;
  memory: WriterMemory;
  /** The log key's verifier key: checkpoints in the log must verify with it. */
  vkey: string;
}

export function vouchForLog(input: VouchInput): Vouch {
  const { memory } = input;
  if (memory.anchor) return checkFrom(input, memory.anchor);
  // A cached anchor past one of our own events would skip checking that event.
  const cached = input.cachedAnchor;
  if (cached && (memory.own.length === 0 || cached.size <= memory.own.seqAt(0))) {
    const fromCache = checkFrom(input, cached);
    if (fromCache.ok) return fromCache;
  }
  return checkFrom(input, null);
}

function checkFrom(input: VouchInput, anchor: Anchor | null): Vouch {
  const { fd, memory } = input;
  const own = memory.own;
  let next = 0;
  while (next < own.length && own.seqAt(next) < (anchor?.size ?? 0)) next += 1;
  let changed: number | null = null;
  let firstCheckpoint = -1;
  const checker = new Checker(input.file, { vkey: input.vkey }, {
    onLeaf: (seq, source, at) => {
      if (next < own.length && own.seqAt(next) === seq) {
        if (changed === null && !own.matches(next, source, at)) changed = seq;
        next += 1;
      }
    },
    onCheckpoint: (byteOffset) => {
      if (firstCheckpoint === -1) firstCheckpoint = byteOffset;
    },
  });
  if (checker.report.error) return { ok: false, reason: checker.report.error.message, missing: null };
  const where = anchor ? `its checkpoint of size ${anchor.size}` : 'its first line';
  if (anchor) {
    // The line before a checkpoint is the last event it covers: the chain goes on from its leaf.
    const before = readLineBefore(fd, anchor.offset);
    const event = before && parseLine(before.line);
    if (!before || !event || event['seq'] !== anchor.size - 1) return { ok: false, reason: `the log no longer has checkpoint ${anchor.size} where it was (byte ${anchor.offset})`, missing: null };
    checker.resume({ frontier: new Frontier(anchor.size, anchor.frontier.map((hash) => Buffer.from(hash, 'hex'))), lastLeaf: hashLeaf(before.line), lastTs: typeof event['ts'] === 'string' ? event['ts'] : null });
  }

  const scan = sharedScanner();
  let records = scanRecords;
  let marked: number | null = null;
  let stopped = false;
  // Lines [from, to) of a chunk that are not this process's own, checked as `audit verify` would.
  const checkLines = (buf: Buffer, from: number, to: number, offset: number): void => {
    if (stopped || from >= to) return;
    records = scan(buf, from, to, checker.originJson, records);
    stopped = !checker.consume({ buf, offset, records });
  };
  // This process's own lines, found byte for byte where it wrote them, only need
  // hashing and linking (their form is what the writer made); anything else is parsed.
  const checkChunk = (buf: Buffer, from: number, to: number, offset: number): void => {
    let run = from;
    for (let s = from; s < to && !stopped; ) {
      const e = buf.indexOf(LF, s);
      if (next < own.length && own.offsetAt(next) === offset + s && own.sameLine(next, buf, s, e)) {
        checkLines(buf, run, s, offset);
        // (Accepting it passes it to onLeaf, which moves `next` on.)
        if (!stopped && checker.acceptWrittenEvent(own.seqAt(next), own.prevAt(next), own.leafAt(next), offset + s)) run = e + 1;
        else run = s;
      }
      s = e + 1;
    }
    checkLines(buf, run, to, offset);
  };
  const reader = new LineChunkReader(fd, input.end, anchor?.offset ?? 0);
  for (let chunk = reader.next(readBuffer); chunk && !stopped; chunk = reader.next(readBuffer)) {
    // Before checking: the scanner overwrites the LF before each line.
    marked ??= findRewrittenMark(chunk.buf, chunk.from, chunk.to, chunk.offset);
    checkChunk(chunk.buf, chunk.from, chunk.to, chunk.offset);
  }
  if (!stopped && input.pending.length > 0) {
    const pending = Buffer.concat([Buffer.from([LF]), input.pending]);
    checkChunk(pending, 1, pending.length, input.end - 1);
  }
  scanRecords = records;
  const error = checker.report.error as VerifyIssue | null;
  if (error) return { ok: false, reason: `the log does not verify from ${where}: ${error.code} at byte ${error.byte_offset}: ${error.message}`, missing: null };
  if (anchor && firstCheckpoint !== anchor.offset) return { ok: false, reason: `the log no longer has checkpoint ${anchor.size} where it was (byte ${anchor.offset})`, missing: null };
  const missing = changed ?? (next < own.length ? own.seqAt(next) : null);
  if (missing !== null) {
    const gone = own.length - countBelow(own, missing);
    return { ok: false, reason: `the log was rewritten: event ${missing} that this process appended${gone > 1 ? ` (and up to ${gone - 1} after it)` : ''} is gone or changed`, missing };
  }
  if (marked !== null) return { ok: false, reason: `a writer found this log rewritten and recorded it (${REWRITTEN_KIND} at byte ${marked}); no checkpoint is signed over it`, missing: null };
  return { ok: true, frontier: checker.frontier };
}

// One scanner for every check this process makes: a new one would run cold
// (its closures start without type feedback) for each checkpoint's thousand lines.
let scanner: ChunkScanner | null = null;
let scanRecords = createScanRecords(1024);
// Reused too: a gateway checks its log every thousand events, and a fresh
// buffer of the region each time showed as megabytes of RSS between collections.
const readBuffer = Buffer.allocUnsafe(1 + (64 << 10));

function sharedScanner(): ChunkScanner {
  scanner ??= createChunkScanner();
  return scanner;
}

function countBelow(own: OwnEvents, seq: number): number {
  let n = 0;
  while (n < own.length && own.seqAt(n) < seq) n += 1;
  return n;
}

/** File offset of a top-level `log.rewritten` event in buf[from, to), or null. */
function findRewrittenMark(buf: Buffer, from: number, to: number, offset: number): number | null {
  for (let i = buf.indexOf(REWRITTEN_MARK, from); i !== -1 && i < to; i = buf.indexOf(REWRITTEN_MARK, i + 1)) {
    const start = buf.lastIndexOf(LF, i) + 1;
    const lineStart = Math.max(start, from);
    const end = buf.indexOf(LF, i);
    // Canonical lines could hold the same bytes inside "data": only the top-level kind counts.
    if (parseLine(buf.subarray(lineStart, end))?.['kind'] === REWRITTEN_KIND) return offset + lineStart;
  }
  return null;
}
