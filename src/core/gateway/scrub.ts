// Keeps real secret values from travelling back to the child: every encoding
// of a value that a server might echo (raw, base64 at any alignment, URL- and
// JSON-escaped) is replaced by the run's placeholder, in headers and in bodies
// as they stream, including occurrences split across chunk boundaries.
export interface ScrubRule {
  pattern: Buffer;
  replacement: Buffer;
}

/** The encodings of `value` to look for, longest first (the longest match at a position wins). */
export function buildScrubRules(value: Buffer, placeholder: string): ScrubRule[] {
  const replacement = Buffer.from(placeholder, 'utf8');
  const forms = new Set<string>();
  const text = value.toString('utf8');
  forms.add(text);
  for (const alphabet of ['base64', 'base64url'] as const) {
    forms.add(value.toString(alphabet));
    forms.add(value.toString(alphabet).replace(/=+$/, ''));
    // Inside a longer base64 blob the value can start at any of three byte
    // offsets; only the characters that encode value bits alone are stable.
    for (let shift = 0; shift < 3; shift += 1) {
      const encoded = Buffer.concat([Buffer.alloc(shift), value]).toString(alphabet);
      const first = Math.ceil((8 * shift) / 6);
      const end = Math.floor((8 * (shift + value.length)) / 6);
      if (end - first >= 8) forms.add(encoded.slice(first, end));
    }
  }
  const uri = encodeURIComponent(text);
  forms.add(uri);
  forms.add(uri.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase()));
  forms.add(uri.replace(/%20/g, '+'));
  forms.add(JSON.stringify(text).slice(1, -1));
  forms.add(JSON.stringify(text).slice(1, -1).replace(/\//g, '\\/'));
  return [...forms]
    .filter((form) => form.length > 0)
    .map((form) => ({ pattern: Buffer.from(form, 'utf8'), replacement }))
    .sort((a, b) => b.pattern.length - a.pattern.length);
}

/**
 * The rules compiled for a single pass: for each possible first byte, the
 * rules starting with it (longest first). Scanning a chunk then costs one
 * table lookup per byte instead of one indexOf per rule (there are ~24 rules
 * per secret), and finds the tail worth holding back in the same pass.
 */
interface Matcher {
  byFirst: (readonly ScrubRule[] | undefined)[];
  /** 1 where some pattern starts with these two bytes (index: first << 8 | second); most positions fail here. */
  pairs: Uint8Array;
  /** All rules, longest first, and the longest pattern's length. */
  sorted: readonly ScrubRule[];
  maxLength: number;
}

/**
 * Above this size a chunk's bulk is searched with one native indexOf per rule
 * (sublinear, Boyer-Moore-Horspool) rather than byte by byte in JavaScript;
 * measured crossover on 64 KiB JSON vs ~100-byte API answers.
 */
const NATIVE_SEARCH_FROM = 2048;

const matchers = new WeakMap<readonly ScrubRule[], Matcher>();

function compile(rules: readonly ScrubRule[]): Matcher {
  let matcher = matchers.get(rules);
  if (matcher) return matcher;
  const byFirst: ScrubRule[][] = [];
  // Stable sort keeps the caller's order on ties; longest first makes the longest match at a position win.
  const sorted = rules.filter((rule) => rule.pattern.length > 0).sort((a, b) => b.pattern.length - a.pattern.length);
  const pairs = new Uint8Array(65536);
  for (const rule of sorted) {
    (byFirst[rule.pattern[0]!] ??= []).push(rule);
    if (rule.pattern.length > 1) pairs[(rule.pattern[0]! << 8) | rule.pattern[1]!] = 1;
    // A one-byte pattern matches whatever follows it.
    else for (let next = 0; next < 256; next += 1) pairs[(rule.pattern[0]! << 8) | next] = 1;
  }
  matcher = { byFirst: Array.from({ length: 256 }, (_, byte) => byFirst[byte]), pairs, sorted, maxLength: sorted[0]?.pattern.length ?? 0 };
  matchers.set(rules, matcher);
  return matcher;
}

/** Bytes of `data` from `at` equal `pattern` from 1 (byte 0 is known to match) up to `length`. */
function sameBytes(data: Uint8Array, at: number, pattern: Uint8Array, length: number): boolean {
  for (let k = 1; k < length; k += 1) if (data[at + k] !== pattern[k]) return false;
  return true;
}

/**
 * Scrubs `data` in one pass. With `stream`, stops at the first position where
 * the data ends inside a possible match (a proper prefix of some pattern) and
 * reports it as `hold`; without it, the data is complete and nothing is held.
 */
function scan(data: Buffer, matcher: Matcher, stream: boolean): { out: Buffer; hold: number } {
  const { byFirst, pairs } = matcher;
  const length = data.length;
  let pieces: Buffer[] | null = null;
  let from = 0;
  let i = 0;
  if (length >= NATIVE_SEARCH_FROM) {
    // Every pattern fits before `cut`, so no partial match can start there:
    // the earliest-then-longest matches below it are what the byte loop would find.
    const cut = length - matcher.maxLength;
    const { sorted } = matcher;
    const next = new Array<number>(sorted.length).fill(-2);
    for (;;) {
      let best = -1;
      let bestRule: ScrubRule | null = null;
      for (let r = 0; r < sorted.length; r += 1) {
        let at = next[r]!;
        if (at !== -1 && at < from) next[r] = at = data.indexOf(sorted[r]!.pattern, from);
        if (at !== -1 && at < cut && (best === -1 || at < best)) {
          best = at;
          bestRule = sorted[r]!;
        }
      }
      if (!bestRule) break;
      pieces ??= [];
      pieces.push(data.subarray(from, best), bestRule.replacement);
      from = best + bestRule.pattern.length;
    }
    i = Math.max(from, cut);
  }
  const last = length - 1;
  while (i < length) {
    // Two-byte prefilter; the last byte has no successor and goes to the full check.
    if (i < last && pairs[(data[i]! << 8) | data[i + 1]!] === 0) {
      i += 1;
      continue;
    }
    const candidates = byFirst[data[i]!];
    if (candidates === undefined) {
      i += 1;
      continue;
    }
    let matched: ScrubRule | null = null;
    let partial = false;
    for (const rule of candidates) {
      const pattern = rule.pattern;
      if (i + pattern.length <= length) {
        if (sameBytes(data, i, pattern, pattern.length)) {
          matched = rule;
          break;
        }
      } else if (stream && !partial && sameBytes(data, i, pattern, length - i)) {
        partial = true;
      }
    }
    if (matched) {
      pieces ??= [];
      pieces.push(data.subarray(from, i), matched.replacement);
      i += matched.pattern.length;
      from = i;
    } else if (partial) {
      // Everything from here may be the start of the value: the next chunk decides.
      return { out: finish(data, pieces, from, i), hold: i };
    } else {
      i += 1;
    }
  }
  return { out: finish(data, pieces, from, length), hold: length };
}

function finish(data: Buffer, pieces: Buffer[] | null, from: number, end: number): Buffer {
  if (!pieces) return end === data.length ? data : data.subarray(0, end);
  pieces.push(data.subarray(from, end));
  return Buffer.concat(pieces);
}

/** Replaces every complete occurrence in `data`; returns the same buffer when nothing matched. */
export function scrubBuffer(data: Buffer, rules: readonly ScrubRule[]): Buffer {
  if (rules.length === 0 || data.length === 0) return data;
  return scan(data, compile(rules), false).out;
}

export function scrubHeaderValue(value: string, rules: readonly ScrubRule[]): string {
  if (rules.length === 0 || !mayContain(value, compile(rules))) return value;
  const bytes = Buffer.from(value, 'latin1');
  const scrubbed = scrubBuffer(bytes, rules);
  return scrubbed === bytes ? value : scrubbed.toString('latin1');
}

/** Header values are latin1 strings: look for a complete match without converting to a Buffer first (the common case is none). */
function mayContain(value: string, matcher: Matcher): boolean {
  const length = value.length;
  for (let i = 0; i < length; i += 1) {
    const candidates = matcher.byFirst[value.charCodeAt(i) & 0xff];
    if (candidates === undefined) continue;
    for (const rule of candidates) {
      const pattern = rule.pattern;
      if (i + pattern.length > length) continue;
      let k = 1;
      while (k < pattern.length && (value.charCodeAt(i + k) & 0xff) === pattern[k]) k += 1;
      if (k === pattern.length) return true;
    }
  }
  return false;
}

export interface StreamScrubber {
  /** Scrubbed bytes that are safe to send now. */
  push(chunk: Buffer): Buffer;
  /** Whatever was held back, scrubbed; call at the end of the stream. */
  flush(): Buffer;
  /** True while a tail is held back (a possible start of the value). */
  holding(): boolean;
}

const EMPTY = Buffer.alloc(0);

/**
 * Holds back only the shortest tail that could still become a match (a tail
 * that is a prefix of some pattern), so an SSE event that ends in "\n\n" is
 * passed on at once instead of waiting for the next chunk.
 */
export function createStreamScrubber(rules: readonly ScrubRule[]): StreamScrubber {
  const matcher = rules.length > 0 ? compile(rules) : null;
  let held: Buffer | null = null;
  return {
    push(chunk) {
      if (!matcher) return chunk;
      const data = held ? Buffer.concat([held, chunk]) : chunk;
      held = null;
      if (data.length === 0) return data;
      const { out, hold } = scan(data, matcher, true);
      // A copy: the held tail outlives the chunk it came from.
      if (hold < data.length) held = Buffer.from(data.subarray(hold));
      return out;
    },
    flush() {
      if (!held) return EMPTY;
      // The stream is over: the held tail can no longer grow into a match, but
      // a shorter pattern may still lie complete inside it.
      const rest = scan(held, matcher!, false).out;
      held = null;
      return rest;
    },
    holding: () => held !== null,
  };
}
