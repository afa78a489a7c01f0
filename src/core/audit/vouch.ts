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
import { createChunkScanner, createScanRecords } from './scan.js';
import { parseLine, readLineBefore, type Anchor, type TailState } from './tail-state.js';

/** The kind of the event a writer leaves when it finds its own events gone: no writer signs over it. */
export const REWRITTEN_KIND = 'log.rewritten';
const REWRITTEN_MARK = Buffer.from(`"kind":"${REWRITTEN_KIND}"`);
const LF = 0x0a;

/** Leaf hashes of the events this process appended since its anchor, by seq. */
export class OwnEvents {
  private seqs: number[] = [];
  private leaves = Buffer.allocUnsafe(32 * 64);

  get length(): number {
    return this.seqs.length;
  }

  seqAt(index: number): number {
    return this.seqs[index]!;
  }

  add(seq: number, leaf: Buffer): void {
    const at = this.seqs.length * 32;
    if (at + 32 > this.leaves.length) {
      const grown = Buffer.allocUnsafe(this.leaves.length * 2);
      this.leaves.copy(grown, 0, 0, at);
      this.leaves = grown;
    }
    leaf.copy(this.leaves, at);
    this.seqs.push(seq);
  }

  matches(index: number, source: Buffer, at: number): boolean {
    return this.leaves.compare(source, at, at + 32, index * 32, index * 32 + 32) === 0;
  }

  /** Forgets events below `size` (a checkpoint covers them now). */
  dropBelow(size: number): void {
    let n = 0;
    while (n < this.seqs.length && this.seqs[n]! < size) n += 1;
    if (n === 0) return;
    this.leaves.copy(this.leaves, 0, n * 32, this.seqs.length * 32);
    this.seqs = this.seqs.slice(n);
  }

  clear(): void {
    this.seqs = [];
  }
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
}

export function createWriterMemory(): WriterMemory {
  return { state: null, anchor: null, own: new OwnEvents(), firstLeaf: null, refusal: null };
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

  const scan = createChunkScanner();
  let records = createScanRecords(1024);
  let marked: number | null = null;
  const reader = new LineChunkReader(fd, input.end, anchor?.offset ?? 0);
  const buf = Buffer.allocUnsafe(1 + Math.min(1 << 20, Math.max(4096, input.end - (anchor?.offset ?? 0))));
  let stopped = false;
  for (let chunk = reader.next(buf); chunk && !stopped; chunk = reader.next(buf)) {
    // Before scanning: the scanner overwrites the LF before each line.
    marked ??= findRewrittenMark(chunk.buf, chunk.from, chunk.to, chunk.offset);
    records = scan(chunk.buf, chunk.from, chunk.to, checker.originJson, records);
    stopped = !checker.consume({ buf: chunk.buf, offset: chunk.offset, records });
  }
  if (!stopped && input.pending.length > 0) {
    const pending = Buffer.concat([Buffer.alloc(1), input.pending]);
    records = scan(pending, 1, pending.length, checker.originJson, records);
    checker.consume({ buf: pending, offset: input.end - 1, records });
  }

  // (Set by consume(); the compiler still sees the null of the check above.)
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
