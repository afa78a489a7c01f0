// The sequential half of `audit verify`: everything that depends on the
// lines before (seq, prev links, the Merkle tree, checkpoints and their
// signatures, a trusted checkpoint), checked strictly in file order over
// chunks the scanner (scan.ts) has already taken apart. The writer runs the
// same checks before it signs (vouch.ts).
import { timingSafeEqual } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import canonicalize from 'canonicalize';
import { isLowerHex } from './encoding.js';
import { parseVkey, type LogVerifierKey } from './log-key.js';
import { copyHash, EMPTY_ROOT, Frontier } from './merkle.js';
import { openCheckpointNote } from './note.js';
import { LINE_CHECKPOINT, LINE_SLOW, type ChunkConsumer, type ScannedChunk } from './scan.js';

export type VerifyErrorCode =
  | 'BAD_JSON'
  | 'NOT_CANONICAL'
  | 'BAD_VERSION'
  | 'BAD_ORIGIN'
  | 'SEQ_GAP'
  | 'BAD_PREV'
  | 'BAD_CHECKPOINT_SIG'
  | 'CHECKPOINT_MISMATCH'
  | 'UNKNOWN_KEY'
  | 'TRUNCATED'
  | 'ROLLBACK'
  | 'FORK';
export type VerifyWarningCode = 'TORN_TAIL' | 'TS_ORDER' | 'UNCOVERED_TAIL' | 'VKEY_FROM_LOG' | 'NO_LOG_INIT';

export interface VerifyIssue<C extends string = string> {
  /** 1-based line number (0 when the issue is about the whole file). */
  line: number;
  byte_offset: number;
  seq: number | null;
  code: C;
  message: string;
}

export interface TrustedCheckpoint {
  origin: string;
  size: number;
  root: Buffer;
}

export interface VerifyOptions {
  /** A verifier key obtained out of band (flag or config). Without one the log.init hint is used, with a warning. */
  vkey?: string;
  /** A checkpoint kept elsewhere: the log must extend it. Either the note alone or a checkpoint JSON line. */
  trusted?: string;
  /** Worker threads for scanning; default: one per available core beyond the first, for files over a few MiB. */
  threads?: number;
  /** Bytes per chunk (tests use small values to exercise chunk edges). */
  chunkSize?: number;
  /** The worker module (tests running from the TypeScript sources pass one they built; the bundle finds its own). */
  workerUrl?: URL;
  /** Called for each event line that passed every check so far (replay uses it). Forces the single-thread path. */
  onEvent?: (line: string, seq: number) => void;
  /** Called for each checkpoint that verified (signature, size and root). */
  onCheckpoint?: (size: number, root: string) => void;
  /** Called now and then with how many bytes of the file have been read (progress on a terminal). */
  onProgress?: (bytes: number) => void;
}

export interface VerifyReport {
  ok: boolean;
  file: string;
  origin: string | null;
  vkey: string | null;
  vkeySource: 'given' | 'log' | 'none';
  events: number;
  checkpoints: number;
  lines: number;
  bytes: number;
  head: { size: number; root: string };
  lastCheckpoint: { size: number; root: string; line: number } | null;
  uncovered: number;
  trusted: { size: number; root: string; result: 'extends' | 'TRUNCATED' | 'ROLLBACK' | 'FORK' | 'not-checked' } | null;
  error: VerifyIssue<VerifyErrorCode> | null;
  warnings: VerifyIssue<VerifyWarningCode>[];
  /** Warnings of a kind past the first are counted, not listed. */
  warningCounts: Partial<Record<VerifyWarningCode, number>>;
  threads: number;
}

/** What the writer watches for while it checks the log before signing. */
export interface CheckerHooks {
  /** Each event's leaf hash (at source[at, at + 32)), its seq, and the file offset of its line. */
  onLeaf?: (seq: number, source: Buffer, at: number, byteOffset: number) => void;
  /** A checkpoint line at this file offset verified (signature, size and root). */
  onCheckpoint?: (byteOffset: number) => void;
}

/** Parses `--trusted` content (a note, or a checkpoint line) after checking its signature. */
export function openTrustedCheckpoint(text: string, key: LogVerifierKey): TrustedCheckpoint | { code: VerifyErrorCode; message: string } {
  let note = text;
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    try {
      const parsed = JSON.parse(trimmed) as { note?: unknown };
      if (typeof parsed.note !== 'string') return { code: 'BAD_JSON', message: 'the trusted checkpoint has no "note"' };
      note = parsed.note;
    } catch {
      return { code: 'BAD_JSON', message: 'the trusted checkpoint file is neither a signed note nor a checkpoint line' };
    }
  }
  const opened = openCheckpointNote(note, key);
  if (!opened.ok) return { code: opened.code, message: `trusted checkpoint: ${opened.message}` };
  return { origin: opened.origin, size: opened.size, root: opened.root };
}

/** The sequential half of verification. */
export class Checker implements ChunkConsumer {
  readonly report: VerifyReport;
  originJson: Buffer;
  private readonly options: VerifyOptions;
  private key: LogVerifierKey | null = null;
  private expectedOrigin: string | null = null;
  private trusted: TrustedCheckpoint | null = null;
  private trustedRoot: Buffer | null = null;
  private line = 0;
  /** The leaf hash of the last event checked. */
  readonly lastLeaf = Buffer.alloc(32);
  private lastTs: string | null = null;
  private lastLineWasCheckpointCovering = false;
  /** The tree of the events checked so far. */
  frontier = new Frontier();
  private stopped = false;
  private readonly hooks: CheckerHooks;

  constructor(file: string, options: VerifyOptions, hooks: CheckerHooks = {}) {
    this.options = options;
    this.hooks = hooks;
    this.report = {
      ok: false,
      file,
      origin: null,
      vkey: null,
      vkeySource: 'none',
      events: 0,
      checkpoints: 0,
      lines: 0,
      bytes: 0,
      head: { size: 0, root: EMPTY_ROOT.toString('hex') },
      lastCheckpoint: null,
      uncovered: 0,
      trusted: null,
      error: null,
      warnings: [],
      warningCounts: {},
      threads: 0,
    };
    this.originJson = Buffer.alloc(0);
    if (options.vkey !== undefined) {
      this.key = parseVkey(options.vkey);
      if (!this.key) {
        this.fail(0, 0, null, 'UNKNOWN_KEY', `the verifier key is not a valid C2SP Ed25519 vkey: ${options.vkey}`);
        return;
      }
      this.report.vkey = this.key.vkey;
      this.report.vkeySource = 'given';
      this.setOrigin(this.key.name);
    }
    if (options.trusted !== undefined) {
      const hintOnly = this.key === null;
      if (!hintOnly) this.openTrusted();
      // Without an out-of-band key the trusted checkpoint is opened once log.init has given us one.
    }
  }

  /**
   * Continues from a point already vouched for instead of from seq 0: the
   * events before it are summed up by `frontier`, and the last of them had
   * leaf hash `lastLeaf`. (The writer checks a log from its last checkpoint.)
   */
  resume(from: { frontier: Frontier; lastLeaf: Buffer; lastTs: string | null }): void {
    this.frontier = from.frontier.clone();
    from.lastLeaf.copy(this.lastLeaf);
    this.lastTs = from.lastTs;
  }

  get events(): number {
    return this.frontier.size;
  }

  primeOrigin(firstLine: Buffer): void {
    if (this.expectedOrigin !== null) return;
    try {
      const log = (JSON.parse(firstLine.toString('utf8')) as { log?: unknown }).log;
      if (typeof log === 'string') this.setOrigin(log);
    } catch {
      // Left unset: every line then takes the slow path, which reports the problem.
    }
  }

  private openTrusted(): void {
    if (this.options.trusted === undefined || !this.key || this.trusted) return;
    const opened = openTrustedCheckpoint(this.options.trusted, this.key);
    if ('code' in opened) {
      this.fail(0, 0, null, opened.code, opened.message);
      return;
    }
    this.trusted = opened;
    this.report.trusted = { size: opened.size, root: opened.root.toString('hex'), result: 'not-checked' };
    if (opened.size === 0) this.trustedRoot = EMPTY_ROOT;
  }

  private setOrigin(origin: string): void {
    this.expectedOrigin = origin;
    this.report.origin = origin;
    this.originJson = Buffer.from(JSON.stringify(origin), 'utf8');
  }

  private fail(line: number, offset: number, seq: number | null, code: VerifyErrorCode, message: string): false {
    if (!this.report.error) this.report.error = { line, byte_offset: offset, seq, code, message };
    this.stopped = true;
    return false;
  }

  private warn(line: number, offset: number, seq: number | null, code: VerifyWarningCode, message: string): void {
    const count = (this.report.warningCounts[code] ?? 0) + 1;
    this.report.warningCounts[code] = count;
    if (count === 1) this.report.warnings.push({ line, byte_offset: offset, seq, code, message });
  }

  /** Checks one scanned chunk; returns false once an error stops verification. */
  consume(chunk: ScannedChunk): boolean {
    if (this.stopped) return false;
    const { buf, offset, records: r } = chunk;
    for (let i = 0; i < r.count; i++) {
      this.line++;
      const start = r.start[i] as number;
      const end = r.end[i] as number;
      const at = offset + start;
      const kind = r.kind[i] as number;
      if (kind === LINE_SLOW || (kind !== LINE_CHECKPOINT && (r.seq[i] === 0 || this.expectedOrigin === null || this.options.onEvent))) {
        if (!this.slowLine(buf, start, end, at, r.leafs, i * 32, kind === LINE_SLOW)) return false;
        continue;
      }
      if (kind === LINE_CHECKPOINT) {
        if (!this.checkpoint(JSON.parse(buf.toString('utf8', start, end)) as Record<string, unknown>, at)) return false;
        continue;
      }
      const seq = r.seq[i] as number;
      const flags = r.flags[i] as number;
      if ((flags & 1) === 0) return this.fail(this.line, at, seqOrNull(seq), 'BAD_VERSION', 'the event\'s "v" is not 1');
      if ((flags & 2) === 0) return this.fail(this.line, at, seqOrNull(seq), 'BAD_ORIGIN', `the event's "log" is not ${this.expectedOrigin ?? '?'}`);
      if (seq !== this.events) return this.fail(this.line, at, seqOrNull(seq), 'SEQ_GAP', `expected seq ${this.events}, found ${seq < 0 ? 'none' : seq}`);
      const prevState = r.prevState[i] as number;
      const link = r.link[i] as number;
      if (prevState !== 1 || link === 2 || (link === 0 && r.prevs.compare(this.lastLeaf, 0, 32, i * 32, i * 32 + 32) !== 0)) {
        return this.fail(this.line, at, seq, 'BAD_PREV', prevState === 0 ? '"prev" is null after seq 0' : `"prev" is not the leaf hash of event ${seq - 1} (that line or this one was changed)`);
      }
      const tsOrder = r.tsOrder[i] as number;
      const tsStart = r.tsStart[i] as number;
      if (tsOrder === 2) this.warn(this.line, at, seq, 'TS_ORDER', 'timestamp earlier than the previous event\'s');
      else if (tsOrder === 0 && tsStart >= 0 && this.lastTs !== null && buf.toString('latin1', tsStart, r.tsEnd[i] as number) < this.lastTs) {
        this.warn(this.line, at, seq, 'TS_ORDER', 'timestamp earlier than the previous event\'s');
      }
      if (i + 1 === r.count || r.kind[i + 1] !== 0) this.lastTs = tsStart >= 0 ? buf.toString('latin1', tsStart, r.tsEnd[i] as number) : this.lastTs;
      this.appendLeaf(r.leafs, i * 32, at);
    }
    return true;
  }

  /**
   * An event line the writer wrote itself and has just found, byte for byte,
   * where it wrote it (so its form, version and origin are as written): it
   * still has to be the next event and link to the last one. Returns false,
   * changing nothing, when it is not (the caller then checks it as any line).
   */
  acceptWrittenEvent(seq: number, prev: Buffer, leaf: Buffer, byteOffset: number): boolean {
    if (this.stopped || seq !== this.events || seq === 0 || !prev.equals(this.lastLeaf)) return false;
    this.line++;
    this.appendLeaf(leaf, 0, byteOffset);
    return true;
  }

  private appendLeaf(source: Buffer, at: number, byteOffset: number): void {
    copyHash(source, at, this.lastLeaf, 0);
    this.hooks.onLeaf?.(this.frontier.size, source, at, byteOffset);
    this.frontier.appendFrom(source, at);
    this.lastLineWasCheckpointCovering = false;
    if (this.trusted && this.events === this.trusted.size) this.trustedRoot = this.root();
  }

  root(): Buffer {
    return this.frontier.root();
  }

  /** The definitive path: JSON.parse + canonicalize, then the same checks. */
  private slowLine(buf: Buffer, start: number, end: number, at: number, leafs: Buffer, leafAt: number, mustCheckCanonical: boolean): boolean {
    const bytes = buf.subarray(start, end);
    if (!isUtf8(bytes)) return this.fail(this.line, at, null, 'BAD_JSON', 'the line is not valid UTF-8');
    const text = bytes.toString('utf8');
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return this.fail(this.line, at, null, 'BAD_JSON', `not JSON: ${(error as Error).message}`);
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) return this.fail(this.line, at, null, 'BAD_JSON', 'the line is not a JSON object');
    const object = value as Record<string, unknown>;
    if (mustCheckCanonical) {
      let canonical: string | undefined;
      try {
        canonical = canonicalize(object);
      } catch {
        canonical = undefined;
      }
      if (canonical !== text) return this.fail(this.line, at, seqOrNull(object['seq']), 'NOT_CANONICAL', 'the line is not in JCS canonical form (key order, spacing, escapes, number form or duplicate keys)');
    }
    if (object['kind'] === 'checkpoint') return this.checkpoint(object, at);
    return this.event(object, text, at, leafs, leafAt);
  }

  private event(object: Record<string, unknown>, text: string, at: number, leafs: Buffer, leafAt: number): boolean {
    const seq = object['seq'];
    const seqValue = seqOrNull(seq);
    if (this.expectedOrigin === null && typeof object['log'] === 'string') this.setOrigin(object['log']);
    if (object['v'] !== 1) return this.fail(this.line, at, seqValue, 'BAD_VERSION', 'the event\'s "v" is not 1');
    if (object['log'] !== this.expectedOrigin) return this.fail(this.line, at, seqValue, 'BAD_ORIGIN', `the event's "log" is not ${this.expectedOrigin ?? '?'}`);
    if (seq !== this.events) return this.fail(this.line, at, seqValue, 'SEQ_GAP', `expected seq ${this.events}, found ${JSON.stringify(seq) ?? 'none'}`);
    const prev = object['prev'];
    if (this.events === 0) {
      if (prev !== null) return this.fail(this.line, at, 0, 'BAD_PREV', '"prev" of seq 0 must be null');
      this.logInit(object, at);
      if (this.stopped) return false;
    } else if (typeof prev !== 'string' || !isLowerHex(prev, 64) || !Buffer.from(prev, 'hex').equals(this.lastLeaf)) {
      return this.fail(this.line, at, seqValue, 'BAD_PREV', `"prev" is not the leaf hash of event ${this.events - 1} (that line or this one was changed)`);
    }
    const ts = object['ts'];
    if (typeof ts === 'string') {
      if (this.lastTs !== null && ts < this.lastTs) this.warn(this.line, at, seqValue, 'TS_ORDER', 'timestamp earlier than the previous event\'s');
      this.lastTs = ts;
    }
    this.appendLeaf(leafs, leafAt, at);
    this.options.onEvent?.(text, this.events - 1);
    return true;
  }

  private logInit(object: Record<string, unknown>, at: number): void {
    const data = object['data'] as Record<string, unknown> | null | undefined;
    if (object['kind'] !== 'log.init' || !data || typeof data !== 'object') {
      this.warn(this.line, at, 0, 'NO_LOG_INIT', 'seq 0 is not a log.init event');
      return;
    }
    if (data['origin'] !== undefined && data['origin'] !== this.expectedOrigin) {
      this.fail(this.line, at, 0, 'BAD_ORIGIN', `log.init names origin ${JSON.stringify(data['origin'])}, but the log is ${this.expectedOrigin ?? '?'}`);
      return;
    }
    if (this.key === null && typeof data['vkey'] === 'string') {
      const hinted = parseVkey(data['vkey']);
      if (hinted) {
        this.key = hinted;
        this.report.vkey = hinted.vkey;
        this.report.vkeySource = 'log';
        this.warn(this.line, at, 0, 'VKEY_FROM_LOG', 'checkpoints were checked with the vkey the log itself names; pass --vkey (kept elsewhere) to detect a log rewritten with another key');
        this.openTrusted();
      }
    }
  }

  private checkpoint(object: Record<string, unknown>, at: number): boolean {
    this.report.checkpoints++;
    const keys = Object.keys(object).sort().join(',');
    if (keys !== 'kind,log,note,root,size,v') return this.fail(this.line, at, null, 'CHECKPOINT_MISMATCH', `a checkpoint has exactly the fields kind, log, note, root, size, v (found ${keys})`);
    if (object['v'] !== 1) return this.fail(this.line, at, null, 'BAD_VERSION', 'the checkpoint\'s "v" is not 1');
    if (object['log'] !== this.expectedOrigin) return this.fail(this.line, at, null, 'BAD_ORIGIN', `the checkpoint's "log" is not ${this.expectedOrigin ?? '?'}`);
    const { note, root, size } = object;
    if (typeof note !== 'string' || typeof root !== 'string' || !isLowerHex(root, 64) || typeof size !== 'number' || !Number.isSafeInteger(size)) {
      return this.fail(this.line, at, null, 'CHECKPOINT_MISMATCH', 'the checkpoint\'s note, root or size is malformed');
    }
    if (!this.key) return this.fail(this.line, at, null, 'UNKNOWN_KEY', 'no verifier key: pass --vkey (the log has no usable log.init hint)');
    const opened = openCheckpointNote(note, this.key);
    if (!opened.ok) return this.fail(this.line, at, null, opened.code, opened.message);
    if (opened.origin !== object['log'] || opened.size !== size || !opened.root.equals(Buffer.from(root, 'hex'))) {
      return this.fail(this.line, at, null, 'CHECKPOINT_MISMATCH', 'the checkpoint\'s log, size or root differs from its signed note');
    }
    // Checkpoints are written under the log lock right after the events they cover.
    if (size !== this.events) return this.fail(this.line, at, null, 'CHECKPOINT_MISMATCH', `the checkpoint covers ${size} events, but ${this.events} precede it`);
    const actual = this.root();
    if (!timingSafeEqual(actual, opened.root)) return this.fail(this.line, at, null, 'CHECKPOINT_MISMATCH', `the signed root for size ${size} is not the root of the events before it`);
    this.report.lastCheckpoint = { size, root, line: this.line };
    this.lastLineWasCheckpointCovering = true;
    this.hooks.onCheckpoint?.(at);
    this.options.onCheckpoint?.(size, root);
    return true;
  }

  finish(size: number, tornAt = -1): VerifyReport {
    const report = this.report;
    report.lines = this.line;
    report.bytes = size;
    report.events = this.events;
    report.head = { size: this.events, root: this.root().toString('hex') };
    report.uncovered = this.events - (report.lastCheckpoint?.size ?? 0);
    if (!report.error) {
      if (tornAt >= 0 && tornAt < size) {
        this.warn(this.line + 1, tornAt, null, 'TORN_TAIL', `the last line (${size - tornAt} bytes) has no LF: a writer was interrupted; the next append moves it aside`);
      }
      if (report.uncovered > 0) {
        this.warn(0, size, null, 'UNCOVERED_TAIL', `${report.uncovered} event(s) after the last checkpoint are not covered by a signature yet`);
      }
      if (this.options.trusted !== undefined && !this.trusted && !report.error) {
        this.fail(0, 0, null, 'UNKNOWN_KEY', 'cannot check the trusted checkpoint: no verifier key (pass --vkey)');
      }
      if (this.trusted && report.trusted) {
        const t = this.trusted;
        if (t.origin !== this.expectedOrigin) {
          report.trusted.result = 'FORK';
          this.fail(0, 0, null, 'FORK', `the trusted checkpoint is for ${t.origin}, not ${this.expectedOrigin ?? '?'}`);
        } else if (this.events < t.size) {
          const rollback = this.lastLineWasCheckpointCovering;
          report.trusted.result = rollback ? 'ROLLBACK' : 'TRUNCATED';
          this.fail(
            this.line,
            size,
            null,
            rollback ? 'ROLLBACK' : 'TRUNCATED',
            rollback
              ? `the log ends with a valid checkpoint of size ${this.events}, older than the trusted checkpoint of size ${t.size}: it was rolled back`
              : `the log has ${this.events} events, but the trusted checkpoint covers ${t.size}: events were cut off`,
          );
        } else if (!this.trustedRoot || !this.trustedRoot.equals(t.root)) {
          report.trusted.result = 'FORK';
          this.fail(0, 0, t.size - 1, 'FORK', `the log's first ${t.size} events do not have the trusted root: the history was rewritten`);
        } else {
          report.trusted.result = 'extends';
        }
      }
    }
    report.ok = report.error === null;
    return report;
  }
}

function seqOrNull(seq: unknown): number | null {
  return typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
}
