import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import canonicalize from 'canonicalize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogKey } from '../../../src/core/audit/log-key.js';
import { hashLeaf } from '../../../src/core/audit/merkle.js';
import { createChunkScanner, createScanRecords, LINE_SLOW } from '../../../src/core/audit/scan.js';
import { verifyLogFile, type VerifyReport } from '../../../src/core/audit/verify.js';
import { appendEvents } from '../../../src/core/audit/writer.js';
import { buildVerifyWorker, makeFixture, mintEvent, writeLog, type Fixture } from '../../helpers/audit-log.js';

let fx: Fixture;
let lines: string[];
beforeAll(async () => {
  fx = await makeFixture();
  await writeLog(fx, 22);
  lines = readFileSync(fx.file, 'utf8').split('\n').slice(0, -1);
});
afterAll(() => fx.cleanup());

function writeVariant(name: string, content: string | Buffer): string {
  const file = join(fx.dir, name);
  writeFileSync(file, content);
  return file;
}

const variant = (name: string, edit: (lines: string[]) => string[]) => writeVariant(name, `${edit([...lines]).join('\n')}\n`);
const strictFailed = (report: VerifyReport) => !report.ok || report.warnings.length > 0;

/** Re-serialises an event and re-links every later event, as someone without the log key could. */
function rechain(all: string[], from: number, change: (event: Record<string, unknown>) => void): string[] {
  const out = [...all];
  let prev: string | null = null;
  for (let i = 0; i < out.length; i++) {
    const value = JSON.parse(out[i] as string) as Record<string, unknown>;
    if (value['kind'] === 'checkpoint') continue;
    if (i >= from) {
      if (i === from) change(value);
      if (prev !== null) value['prev'] = prev;
      out[i] = canonicalize(value) as string;
    }
    prev = hashLeaf(out[i] as string).toString('hex');
  }
  return out;
}

describe('audit verify', () => {
  it('accepts the untouched log with no warnings', async () => {
    const report = await verifyLogFile(fx.file, { vkey: fx.vkey });
    expect(report.error).toBeNull();
    expect(report.warnings).toEqual([]);
    expect(report.events).toBe(22);
    expect(report.checkpoints).toBe(1);
    expect(report.uncovered).toBe(0);
  });

  it('brute force: every single-byte change fails --strict, at the right line', async () => {
    const original = readFileSync(fx.file);
    const lineOf: number[] = [];
    let line = 1;
    for (const byte of original) {
      lineOf.push(line);
      if (byte === 0x0a) line++;
    }
    const checkpointLine = lines.length;
    const file = join(fx.dir, 'flip.jsonl');
    let failures = 0;
    for (let i = 0; i < original.length; i++) {
      const copy = Buffer.from(original);
      copy[i] = (copy[i] as number) ^ (i % 7 === 0 ? 0x20 : 0x01);
      writeFileSync(file, copy);
      const report = await verifyLogFile(file, { vkey: fx.vkey });
      expect(strictFailed(report), `byte ${i} (line ${lineOf[i]}) changed, still verifies`).toBe(true);
      const at = lineOf[i] as number;
      if (report.error && at < checkpointLine && original[i] !== 0x0a) {
        // Detected on the edited line itself, or by the next line's prev / the checkpoint covering it.
        expect([at, at + 1, checkpointLine], `byte ${i}: ${report.error.code} on line ${report.error.line}`).toContain(report.error.line);
      }
      failures++;
    }
    expect(failures).toBe(original.length);
  }, 120_000);

  const cases: [string, () => string, Record<string, unknown>, string][] = [
    ['a deleted line', () => variant('del', (l) => l.filter((_, i) => i !== 5)), {}, 'SEQ_GAP'],
    ['two swapped lines', () => variant('swap', (l) => [...l.slice(0, 5), l[6]!, l[5]!, ...l.slice(7)]), {}, 'SEQ_GAP'],
    ['an inserted line', () => variant('ins', (l) => [...l.slice(0, 6), l[5]!, ...l.slice(6)]), {}, 'SEQ_GAP'],
    ['an edit re-chained without the key', () => variant('rechain', (l) => rechain(l, 7, (e) => ((e['data'] as Record<string, unknown>)['aud'] = 'evil.example'))), {}, 'CHECKPOINT_MISMATCH'],
    ['a non-canonical line', () => variant('space', (l) => l.map((x, i) => (i === 3 ? x.replace('{"actor":', '{ "actor":') : x))), {}, 'NOT_CANONICAL'],
    ['an escaped slash', () => variant('slash', (l) => l.map((x, i) => (i === 3 ? x.replace('user:tester', 'user\\/tester') : x))), {}, 'NOT_CANONICAL'],
    ['duplicate keys', () => variant('dup', (l) => l.map((x, i) => (i === 3 ? x.replace('"v":1}', '"v":1,"v":1}') : x))), {}, 'NOT_CANONICAL'],
    ['broken JSON', () => variant('json', (l) => l.map((x, i) => (i === 3 ? x.slice(0, -1) : x))), {}, 'BAD_JSON'],
    ['a wrong version', () => variant('ver', (l) => l.map((x, i) => (i === 3 ? x.replace('"v":1}', '"v":2}') : x))), {}, 'BAD_VERSION'],
    ['another origin', () => variant('orig', (l) => l.map((x, i) => (i === 3 ? x.replace(fx.origin, 'agentauth.local/other') : x))), {}, 'BAD_ORIGIN'],
    ['a wrong prev', () => variant('prev', (l) => l.map((x, i) => (i === 3 ? x.replace(/"prev":"[0-9a-f]{64}"/, `"prev":"${'0'.repeat(64)}"`) : x))), {}, 'BAD_PREV'],
    [
      'a forged signature',
      () =>
        variant('sig', (l) =>
          l.map((x) => {
            const value = JSON.parse(x) as Record<string, unknown>;
            if (value['kind'] !== 'checkpoint') return x;
            const note = value['note'] as string;
            const sig = / (\S+)\n$/.exec(note)![1]!;
            const bytes = Buffer.from(sig, 'base64');
            bytes[10] = (bytes[10] as number) ^ 0xff;
            value['note'] = note.replace(sig, bytes.toString('base64'));
            return canonicalize(value) as string;
          }),
        ),
      {},
      'BAD_CHECKPOINT_SIG',
    ],
  ];
  for (const [what, make, options, code] of cases) {
    it(`reports ${code} for ${what}`, async () => {
      const report = await verifyLogFile(make(), { vkey: fx.vkey, ...options });
      expect(report.error?.code).toBe(code);
      expect(report.error?.line).toBeGreaterThan(0);
    });
  }

  it('reports UNKNOWN_KEY with another key, and the first error with line, offset and seq', async () => {
    const other = await createLogKey(fx.origin);
    const report = await verifyLogFile(fx.file, { vkey: other.vkey });
    expect(report.error).toMatchObject({ code: 'UNKNOWN_KEY', line: lines.length, seq: null });
    expect(report.error?.byte_offset).toBe(readFileSync(fx.file).length - Buffer.byteLength(lines[lines.length - 1]!) - 1);
  });

  it('falls back to the in-log vkey with VKEY_FROM_LOG', async () => {
    const report = await verifyLogFile(fx.file, {});
    expect(report.ok).toBe(true);
    expect(report.vkeySource).toBe('log');
    expect(report.warnings.map((w) => w.code)).toEqual(['VKEY_FROM_LOG']);
  });

  it('warns TORN_TAIL for an unterminated last line only', async () => {
    const torn = writeVariant('torn', `${lines.join('\n')}\n${lines[3]!.slice(0, 40)}`);
    const report = await verifyLogFile(torn, { vkey: fx.vkey });
    expect(report.ok).toBe(true);
    expect(report.warnings.map((w) => w.code)).toEqual(['TORN_TAIL']);
  });

  it('warns TS_ORDER and UNCOVERED_TAIL', async () => {
    const f = await makeFixture();
    try {
      await writeLog(f, 3);
      await appendEvents(f.file, [mintEvent(9)], f.options({ now: () => new Date('2026-01-01T00:00:00.000Z') }));
      const report = await verifyLogFile(f.file, { vkey: f.vkey });
      expect(report.ok).toBe(true);
      expect(report.warnings.map((w) => w.code).sort()).toEqual(['TS_ORDER', 'UNCOVERED_TAIL']);
      expect(report.uncovered).toBe(1);
    } finally {
      f.cleanup();
    }
  });

  describe('against a trusted checkpoint', () => {
    let old: { file: string; note: string };
    let full: { file: string; note: string };
    beforeAll(async () => {
      // A log with checkpoints at 22 and 30; keep a copy of it as of 22.
      old = { file: writeVariant('old.jsonl', readFileSync(fx.file)), note: (JSON.parse(lines[lines.length - 1]!) as { note: string }).note };
      const file = join(fx.dir, 'longer.jsonl');
      copyFileSync(fx.file, file);
      for (let i = 22; i < 30; i++) await appendEvents(file, [mintEvent(i)], fx.options({ forceCheckpoint: i === 29 }));
      const all = readFileSync(file, 'utf8').split('\n').slice(0, -1);
      full = { file, note: (JSON.parse(all[all.length - 1]!) as { note: string }).note };
    });

    it('accepts a log that extends it', async () => {
      const report = await verifyLogFile(full.file, { vkey: fx.vkey, trusted: old.note });
      expect(report.error).toBeNull();
      expect(report.trusted?.result).toBe('extends');
    });

    it('TRUNCATED when events were cut off the end', async () => {
      const all = readFileSync(full.file, 'utf8').split('\n').slice(0, -1);
      const cut = writeVariant('cut.jsonl', `${all.slice(0, -4).join('\n')}\n`);
      expect((await verifyLogFile(cut, { vkey: fx.vkey, trusted: full.note })).error?.code).toBe('TRUNCATED');
    });

    it('ROLLBACK when an older, complete copy was put back', async () => {
      expect((await verifyLogFile(old.file, { vkey: fx.vkey, trusted: full.note })).error?.code).toBe('ROLLBACK');
    });

    it('FORK when the history differs from the trusted tree', async () => {
      // Same key, same prefix of 10 events, different later history, signed honestly.
      const forked = join(fx.dir, 'fork.jsonl');
      writeFileSync(forked, `${lines.slice(0, 10).join('\n')}\n`);
      for (let i = 0; i < 25; i++) await appendEvents(forked, [mintEvent(100 + i)], fx.options({ forceCheckpoint: i === 24 }));
      const report = await verifyLogFile(forked, { vkey: fx.vkey, trusted: old.note });
      expect(report.error?.code).toBe('FORK');
      expect((await verifyLogFile(forked, { vkey: fx.vkey })).ok).toBe(true);
    });
  });

  it('gives the same verdicts with small chunks and with worker threads', async () => {
    const workerUrl = await buildVerifyWorker(fx.dir);
    const files = [fx.file, variant('t1', (l) => l.filter((_, i) => i !== 12)), variant('t2', (l) => l.map((x, i) => (i === 15 ? x.replace('"v":1}', '"v":3}') : x)))];
    for (const file of files) {
      const base = await verifyLogFile(file, { vkey: fx.vkey, threads: 0 });
      for (const options of [{ threads: 0, chunkSize: 97 }, { threads: 1, chunkSize: 512 }, { threads: 2, chunkSize: 300 }]) {
        const report = await verifyLogFile(file, { vkey: fx.vkey, workerUrl, ...options });
        expect({ error: report.error, head: report.head, events: report.events }).toEqual({ error: base.error, head: base.head, events: base.events });
      }
    }
  });
});

describe('the fast canonical scanner', () => {
  const scan = createChunkScanner();
  const classify = (line: string | Buffer): number => {
    const buf = Buffer.concat([Buffer.from('\n'), Buffer.from(line), Buffer.from('\n')]);
    return scan(buf, 1, buf.length, Buffer.from('"o"'), createScanRecords(4)).kind[0] as number;
  };

  // Random values, deliberately including what JCS treats specially.
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const pieces = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', '\u0001', '\u001f', '\u007f', 'é', '€', '\u2028', '😀', '\ud800', '\udc00', 'ﬀ', '\uffff'];
  const randomString = () => Array.from({ length: rand(5) }, () => pieces[rand(pieces.length)]).join('');
  const numbers = [0, -0, 1, -1, 42, 1e15, 999999999999999, 1e16, 2 ** 53, 1.5, -0.25, 1e21, 1e-7, 123456789012345680000];
  const randomValue = (depth: number): unknown => {
    switch (rand(depth > 2 ? 4 : 6)) {
      case 0:
        return randomString();
      case 1:
        return numbers[rand(numbers.length)];
      case 2:
        return [true, false, null][rand(3)];
      case 3:
        return rand(2) ? 7 : 'x';
      case 4:
        return Array.from({ length: rand(4) }, () => randomValue(depth + 1));
      default:
        return Object.fromEntries(Array.from({ length: rand(5) }, () => [randomString(), randomValue(depth + 1)]));
    }
  };
  const spellings = (value: Record<string, unknown>): string[] => {
    const keys = Object.keys(value);
    const text = JSON.stringify(value);
    let canonical = text;
    try {
      canonical = canonicalize(value) as string;
    } catch {
      // lone surrogates: canonicalize refuses them; the other spellings still get checked
    }
    return [
      canonical,
      text,
      JSON.stringify(Object.fromEntries(keys.reverse().map((k) => [k, value[k]]))),
      text.replace(/:/, ': '),
      text.replace(/\//g, '\\/'),
      text.replace(/a/, '\\u0061'),
      text.replace(/"([^"]*)":/, '"$1":1,"$1":'),
      text.replace(/(\d)(,|}|])/, '$1.0$2'),
      text.replace(/é/, '\\u00e9'),
    ];
  };

  it('never accepts a non-canonical line (and accepts the canonical ASCII ones)', () => {
    let fast = 0;
    for (let i = 0; i < 3000; i++) {
      const value = { ...(randomValue(0) as object), ...(rand(2) ? { log: 'o', seq: rand(9), v: 1 } : {}) } as Record<string, unknown>;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
      for (const line of spellings(value)) {
        let canonical: string | undefined;
        try {
          canonical = canonicalize(JSON.parse(line));
        } catch {
          canonical = undefined;
        }
        const kind = classify(line);
        if (kind !== LINE_SLOW) {
          fast++;
          expect(canonical, `accepted non-canonical ${JSON.stringify(line)}`).toBe(line);
        }
      }
    }
    expect(fast).toBeGreaterThan(1000);
    expect(classify('{"a":1,"b":[true,false,null,"x\\n\\u001f"],"c":{"d":-5}}')).not.toBe(LINE_SLOW);
    expect(classify('{"a":1.5}')).toBe(LINE_SLOW);
    expect(classify('{"b":1,"a":2}')).toBe(LINE_SLOW);
    expect(classify('{"a":1,"a":1}')).toBe(LINE_SLOW);
    expect(classify('{"a":"\\u00e9"}')).toBe(LINE_SLOW);
    expect(classify(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x22, 0x7d]))).toBe(LINE_SLOW);
  });
});
