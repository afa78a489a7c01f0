// The per-line fast path of `audit verify`: a byte-level validator that
// proves a line is already in JCS canonical form for the shapes we write
// (ASCII keys, integers of ≤ 15 digits, the escapes JSON.stringify emits),
// locates the top-level fields, checks what can be checked locally, and
// hashes the leaf. Anything it cannot prove canonical is marked SLOW and the
// caller decides with JSON.parse + canonicalize, so the fast path can only
// ever speed up an accept, never accept a non-canonical line.
//
// The same scanner runs on this thread and in verify-worker.ts.
import { isUtf8 } from 'node:buffer';
import { hash } from 'node:crypto';

const LINE_FAST_EVENT = 0;
export const LINE_CHECKPOINT = 1;
export const LINE_SLOW = 2;

/** Per-line results of one chunk, in parallel arrays indexed by line. */
export interface ScanRecords {
  count: number;
  kind: Uint8Array;
  start: Int32Array;
  end: Int32Array;
  seq: Float64Array;
  /** Bit 0: v is 1. Bit 1: log is the expected origin. */
  flags: Uint8Array;
  /** 0: prev is null; 1: a hash (bytes in `prevs`); 2: missing or malformed. */
  prevState: Uint8Array;
  /** 0: not checked here (first event of the chunk); 1: matches the previous event's leaf; 2: does not. */
  link: Uint8Array;
  tsStart: Int32Array;
  tsEnd: Int32Array;
  /** 0: not compared here; 1: not before the previous event's ts; 2: before it. */
  tsOrder: Uint8Array;
  leafs: Buffer;
  prevs: Buffer;
}

/** One scanned chunk of whole lines (see line-chunks.ts), checked in file order. */
export interface ScannedChunk {
  buf: Buffer;
  /** File offset of buf[0]. */
  offset: number;
  records: ScanRecords;
}

/** What consumes scanned chunks in file order: the Checker. */
export interface ChunkConsumer {
  /** The origin every event's "log" must be, as JSON (the scanner compares bytes). */
  readonly originJson: Buffer;
  /** Checks one chunk; false once an error has stopped the check. */
  consume(chunk: ScannedChunk): boolean;
}

export type ChunkScanner = (buf: Buffer, from: number, to: number, originJson: Buffer, records: ScanRecords) => ScanRecords;

export function createScanRecords(capacity: number): ScanRecords {
  return {
    count: 0,
    kind: new Uint8Array(capacity),
    start: new Int32Array(capacity),
    end: new Int32Array(capacity),
    seq: new Float64Array(capacity),
    flags: new Uint8Array(capacity),
    prevState: new Uint8Array(capacity),
    link: new Uint8Array(capacity),
    tsStart: new Int32Array(capacity),
    tsEnd: new Int32Array(capacity),
    tsOrder: new Uint8Array(capacity),
    leafs: Buffer.alloc(capacity * 32),
    prevs: Buffer.alloc(capacity * 32),
  };
}

/**
 * Returns a scanner. `scan(buf, from, to, …)` reads the complete lines in
 * buf[from, to): `to` must be just after an LF, and `from` must be ≥ 1
 * because the byte before each line is overwritten with 0x00 to hash
 * (0x00 ‖ line) without copying it.
 */
export function createChunkScanner(): ChunkScanner {
  const FAST_EVENT = LINE_FAST_EVENT;
  const CHECKPOINT = LINE_CHECKPOINT;
  const SLOW = LINE_SLOW;
  const F_KIND = 0;
  const F_LOG = 1;
  const F_PREV = 2;
  const F_SEQ = 3;
  const F_TS = 4;
  const F_V = 5;
  const FIELDS = 6;
  const MAX_DEPTH = 48;
  const fieldStart = new Int32Array(FIELDS);
  const fieldEnd = new Int32Array(FIELDS);
  const keyStart = new Int32Array(MAX_DEPTH + 2);
  const keyEnd = new Int32Array(MAX_DEPTH + 2);
  let b: Buffer = Buffer.alloc(0);
  let nonAscii = false;

  // Every read below stops at the line's terminating LF (0x0a): it is not a
  // valid byte in any position the grammar accepts, so no bounds checks.
  function str(i: number): number {
    i++;
    for (;;) {
      const c = b[i] as number;
      if (c === 0x22) return i + 1;
      if (c === 0x5c) {
        const n = b[i + 1];
        if (n === 0x22 || n === 0x5c || n === 0x62 || n === 0x66 || n === 0x6e || n === 0x72 || n === 0x74) {
          i += 2;
          continue;
        }
        // JSON.stringify uses \u00xx (lower-case) only for the other control characters.
        if (n !== 0x75 || b[i + 2] !== 0x30 || b[i + 3] !== 0x30) return -1;
        const h = b[i + 4] as number;
        const l = b[i + 5] as number;
        if (h !== 0x30 && h !== 0x31) return -1;
        let low: number;
        if (l >= 0x30 && l <= 0x39) low = l - 0x30;
        else if (l >= 0x61 && l <= 0x66) low = l - 0x57;
        else return -1;
        const v = (h - 0x30) * 16 + low;
        if (v === 8 || v === 9 || v === 10 || v === 12 || v === 13) return -1;
        i += 6;
        continue;
      }
      if (c < 0x20) return -1;
      if (c >= 0x80) nonAscii = true;
      i++;
    }
  }

  function num(i: number): number {
    const sign = i;
    if (b[i] === 0x2d) i++;
    const digits = i;
    const first = b[i] as number;
    if (first === 0x30) {
      if (sign !== digits) return -1; // -0 serialises as 0
      i++;
    } else if (first >= 0x31 && first <= 0x39) {
      i++;
      while ((b[i] as number) >= 0x30 && (b[i] as number) <= 0x39) i++;
    } else {
      return -1;
    }
    // Beyond 15 digits a double may not round-trip; fractions and exponents go the slow way.
    if (i - digits > 15) return -1;
    const c = b[i];
    if (c === 0x2e || c === 0x65 || c === 0x45) return -1;
    return i;
  }

  function value(i: number, depth: number): number {
    const c = b[i];
    if (c === 0x22) return str(i);
    if (c === 0x7b) return obj(i, depth + 1);
    if (c === 0x5b) return arr(i, depth + 1);
    if (c === 0x74) return b[i + 1] === 0x72 && b[i + 2] === 0x75 && b[i + 3] === 0x65 ? i + 4 : -1;
    if (c === 0x66) return b[i + 1] === 0x61 && b[i + 2] === 0x6c && b[i + 3] === 0x73 && b[i + 4] === 0x65 ? i + 5 : -1;
    if (c === 0x6e) return b[i + 1] === 0x75 && b[i + 2] === 0x6c && b[i + 3] === 0x6c ? i + 4 : -1;
    return num(i);
  }

  function keyAfter(as: number, ae: number, bs: number, be: number): boolean {
    const la = ae - as;
    const lb = be - bs;
    const n = la < lb ? la : lb;
    for (let k = 0; k < n; k++) {
      const x = b[as + k] as number;
      const y = b[bs + k] as number;
      if (x !== y) return x > y;
    }
    return la > lb;
  }

  function is(ks: number, text: string): boolean {
    for (let k = 0; k < text.length; k++) if (b[ks + k] !== text.charCodeAt(k)) return false;
    return true;
  }

  function noteTopField(ks: number, ke: number, vs: number, ve: number): void {
    let field = -1;
    switch (ke - ks) {
      case 1:
        if (b[ks] === 0x76) field = F_V;
        break;
      case 2:
        if (b[ks] === 0x74 && b[ks + 1] === 0x73) field = F_TS;
        break;
      case 3:
        if (is(ks, 'log')) field = F_LOG;
        else if (is(ks, 'seq')) field = F_SEQ;
        break;
      case 4:
        if (is(ks, 'kind')) field = F_KIND;
        else if (is(ks, 'prev')) field = F_PREV;
        break;
    }
    if (field >= 0) {
      fieldStart[field] = vs;
      fieldEnd[field] = ve;
    }
  }

  function obj(i: number, depth: number): number {
    if (depth > MAX_DEPTH) return -1;
    i++;
    if (b[i] === 0x7d) return i + 1;
    let first = true;
    for (;;) {
      if (b[i] !== 0x22) return -1;
      const ks = i + 1;
      let j = ks;
      for (;;) {
        const c = b[j] as number;
        if (c === 0x22) break;
        // Non-ASCII keys sort by UTF-16 code units, not bytes: leave them to the slow path.
        if (c < 0x20 || c >= 0x80 || c === 0x5c) return -1;
        j++;
      }
      // Strictly increasing keys: sorted, and no duplicates.
      if (!first && !keyAfter(ks, j, keyStart[depth] as number, keyEnd[depth] as number)) return -1;
      first = false;
      keyStart[depth] = ks;
      keyEnd[depth] = j;
      i = j + 1;
      if (b[i] !== 0x3a) return -1;
      i++;
      const vs = i;
      i = value(i, depth);
      if (i < 0) return -1;
      if (depth === 1) noteTopField(ks, j, vs, i);
      const c = b[i];
      if (c === 0x2c) {
        i++;
        continue;
      }
      if (c === 0x7d) return i + 1;
      return -1;
    }
  }

  function arr(i: number, depth: number): number {
    if (depth > MAX_DEPTH) return -1;
    i++;
    if (b[i] === 0x5d) return i + 1;
    for (;;) {
      i = value(i, depth);
      if (i < 0) return -1;
      const c = b[i];
      if (c === 0x2c) {
        i++;
        continue;
      }
      if (c === 0x5d) return i + 1;
      return -1;
    }
  }

  function hexNibble(c: number): number {
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    if (c >= 0x61 && c <= 0x66) return c - 0x57;
    return -1;
  }

  function grow(r: ScanRecords): void {
    const capacity = r.kind.length * 2;
    const copy = <T extends Uint8Array | Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(a);
      return next;
    };
    r.kind = copy(r.kind, (n) => new Uint8Array(n));
    r.start = copy(r.start, (n) => new Int32Array(n));
    r.end = copy(r.end, (n) => new Int32Array(n));
    r.seq = copy(r.seq, (n) => new Float64Array(n));
    r.flags = copy(r.flags, (n) => new Uint8Array(n));
    r.prevState = copy(r.prevState, (n) => new Uint8Array(n));
    r.link = copy(r.link, (n) => new Uint8Array(n));
    r.tsStart = copy(r.tsStart, (n) => new Int32Array(n));
    r.tsEnd = copy(r.tsEnd, (n) => new Int32Array(n));
    r.tsOrder = copy(r.tsOrder, (n) => new Uint8Array(n));
    const leafs = Buffer.alloc(capacity * 32);
    r.leafs.copy(leafs);
    r.leafs = leafs;
    const prevs = Buffer.alloc(capacity * 32);
    r.prevs.copy(prevs);
    r.prevs = prevs;
  }

  function tsBefore(as: number, ae: number, bs: number, be: number): boolean {
    return !keyAfter(as, ae, bs, be) && !(ae - as === be - bs && b.compare(b, bs, be, as, ae) === 0);
  }

  return function scan(buf, from, to, originJson, r) {
    b = buf;
    let n = 0;
    let lastEvent = -1;
    let s = from;
    while (s < to) {
      const e = buf.indexOf(0x0a, s);
      if (n === r.kind.length) grow(r);
      r.start[n] = s;
      r.end[n] = e;
      for (let f = 0; f < FIELDS; f++) fieldStart[f] = -1;
      nonAscii = false;
      let ok = b[s] === 0x7b && obj(s, 1) === e;
      if (ok && nonAscii) ok = isUtf8(buf.subarray(s, e));
      buf[s - 1] = 0;
      r.leafs.write(hash('sha256', buf.subarray(s - 1, e), 'binary'), n * 32, 'latin1');
      const ks = fieldStart[F_KIND] as number;
      if (!ok) {
        r.kind[n] = SLOW;
        lastEvent = -1;
      } else if (ks >= 0 && fieldEnd[F_KIND] === ks + 12 && is(ks, '"checkpoint"')) {
        r.kind[n] = CHECKPOINT;
      } else {
        r.kind[n] = FAST_EVENT;
        let flags = 0;
        const vs = fieldStart[F_V] as number;
        if (vs >= 0 && fieldEnd[F_V] === vs + 1 && b[vs] === 0x31) flags |= 1;
        const ls = fieldStart[F_LOG] as number;
        if (ls >= 0 && (fieldEnd[F_LOG] as number) - ls === originJson.length && buf.compare(originJson, 0, originJson.length, ls, ls + originJson.length) === 0) flags |= 2;
        r.flags[n] = flags;
        const qs = fieldStart[F_SEQ] as number;
        let seq = -1;
        if (qs >= 0 && b[qs] !== 0x2d && b[qs] !== 0x22) {
          const qe = fieldEnd[F_SEQ] as number;
          let ok2 = true;
          seq = 0;
          for (let k = qs; k < qe; k++) {
            const d = (b[k] as number) - 0x30;
            if (d < 0 || d > 9) {
              ok2 = false;
              break;
            }
            seq = seq * 10 + d;
          }
          if (!ok2) seq = -1;
        }
        r.seq[n] = seq;
        const ps = fieldStart[F_PREV] as number;
        let prevState = 2;
        if (ps >= 0) {
          const pe = fieldEnd[F_PREV] as number;
          if (pe - ps === 4 && b[ps] === 0x6e) prevState = 0;
          else if (pe - ps === 66 && b[ps] === 0x22) {
            prevState = 1;
            const base = n * 32;
            for (let k = 0; k < 32; k++) {
              const hi = hexNibble(b[ps + 1 + 2 * k] as number);
              const lo = hexNibble(b[ps + 2 + 2 * k] as number);
              if (hi < 0 || lo < 0) {
                prevState = 2;
                break;
              }
              r.prevs[base + k] = hi * 16 + lo;
            }
          }
        }
        r.prevState[n] = prevState;
        if (lastEvent >= 0 && prevState === 1) {
          r.link[n] = r.prevs.compare(r.leafs, lastEvent * 32, lastEvent * 32 + 32, n * 32, n * 32 + 32) === 0 ? 1 : 2;
        } else {
          r.link[n] = 0;
        }
        const ts = fieldStart[F_TS] as number;
        r.tsStart[n] = ts;
        r.tsEnd[n] = ts >= 0 ? (fieldEnd[F_TS] as number) : -1;
        if (lastEvent >= 0 && ts >= 0 && (r.tsStart[lastEvent] as number) >= 0) {
          r.tsOrder[n] = tsBefore(ts, fieldEnd[F_TS] as number, r.tsStart[lastEvent] as number, r.tsEnd[lastEvent] as number) ? 2 : 1;
        } else {
          r.tsOrder[n] = 0;
        }
        lastEvent = n;
      }
      n++;
      s = e + 1;
    }
    r.count = n;
    return r;
  };
}
