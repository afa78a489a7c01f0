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

/** Replaces every complete occurrence in `data`; returns the same buffer when nothing matched. */
export function scrubBuffer(data: Buffer, rules: readonly ScrubRule[]): Buffer {
  if (rules.length === 0 || data.length === 0) return data;
  let out: Buffer[] | null = null;
  let from = 0;
  for (;;) {
    const found = findEarliest(data, rules, from);
    if (!found) break;
    out ??= [];
    out.push(data.subarray(from, found.index), found.rule.replacement);
    from = found.index + found.rule.pattern.length;
  }
  if (!out) return data;
  out.push(data.subarray(from));
  return Buffer.concat(out);
}

function findEarliest(data: Buffer, rules: readonly ScrubRule[], from: number): { index: number; rule: ScrubRule } | null {
  let best: { index: number; rule: ScrubRule } | null = null;
  for (const rule of rules) {
    const index = data.indexOf(rule.pattern, from);
    // Rules are sorted longest first, so on a tie the earlier (longer) rule stays.
    if (index !== -1 && (best === null || index < best.index)) best = { index, rule };
  }
  return best;
}

export function scrubHeaderValue(value: string, rules: readonly ScrubRule[]): string {
  const bytes = Buffer.from(value, 'latin1');
  const scrubbed = scrubBuffer(bytes, rules);
  return scrubbed === bytes ? value : scrubbed.toString('latin1');
}

export interface StreamScrubber {
  /** Scrubbed bytes that are safe to send now. */
  push(chunk: Buffer): Buffer;
  /** Whatever was held back, scrubbed; call at the end of the stream. */
  flush(): Buffer;
}

/**
 * Holds back only the shortest tail that could still become a match (a tail
 * that is a prefix of some pattern), so an SSE event that ends in "\n\n" is
 * passed on at once instead of waiting for the next chunk.
 */
export function createStreamScrubber(rules: readonly ScrubRule[]): StreamScrubber {
  let held: Buffer | null = null;
  return {
    push(chunk) {
      const data = held ? Buffer.concat([held, chunk]) : chunk;
      held = null;
      const scrubbed = scrubBuffer(data, rules);
      const keep = findPartialTail(scrubbed, rules);
      if (keep === scrubbed.length) return scrubbed;
      held = Buffer.from(scrubbed.subarray(keep));
      return scrubbed.subarray(0, keep);
    },
    flush() {
      const rest = held ?? Buffer.alloc(0);
      held = null;
      return rest;
    },
  };
}

/** The start of the earliest tail of `data` that is a proper prefix of a pattern, or data.length. */
function findPartialTail(data: Buffer, rules: readonly ScrubRule[]): number {
  let start = data.length;
  for (const rule of rules) {
    const pattern = rule.pattern;
    const lowest = Math.max(0, data.length - pattern.length + 1);
    for (let at = lowest; at < start; at += 1) {
      if (data[at] !== pattern[0]) continue;
      if (data.compare(pattern, 0, data.length - at, at) === 0) {
        start = at;
        break;
      }
    }
  }
  return start;
}
