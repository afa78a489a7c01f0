import { describe, expect, it } from 'vitest';
import { buildScrubRules, createStreamScrubber, scrubBuffer, scrubHeaderValue } from '../../../src/core/gateway/scrub.js';

const VALUE = Buffer.from('sk-live-0123456789abcdefXYZ');
const PH = 'aa-ph-up-PLACEHOLDER';
const rules = buildScrubRules(VALUE, PH);

function streamAll(chunks: Buffer[]): string {
  const scrubber = createStreamScrubber(rules);
  return Buffer.concat([...chunks.map((chunk) => scrubber.push(chunk)), scrubber.flush()]).toString();
}

describe('scrubbing', () => {
  it('replaces the raw, base64, base64url and URL-encoded forms', () => {
    const text = `a ${VALUE} b ${VALUE.toString('base64')} c ${VALUE.toString('base64url')} d ${encodeURIComponent(VALUE.toString())} e`;
    const out = scrubBuffer(Buffer.from(text), rules).toString();
    expect(out).not.toContain(VALUE.toString());
    expect(out).not.toContain(VALUE.toString('base64').slice(0, 20));
    expect(out.split(PH).length - 1).toBeGreaterThanOrEqual(3);
  });

  it('finds the value inside a longer base64 blob at every byte alignment', () => {
    for (let shift = 0; shift < 3; shift += 1) {
      const blob = Buffer.concat([Buffer.alloc(shift, 0x41), Buffer.from('user:'), VALUE, Buffer.from(':tail')]).toString('base64');
      const out = scrubBuffer(Buffer.from(blob), rules).toString();
      expect(out, `shift ${shift}`).toContain(PH);
    }
  });

  it('catches an occurrence split across chunks at every possible boundary', () => {
    const text = Buffer.from(`prefix ${VALUE} suffix`);
    for (let cut = 1; cut < text.length; cut += 1) {
      const out = streamAll([text.subarray(0, cut), text.subarray(cut)]);
      expect(out, `cut at ${cut}`).toBe(`prefix ${PH} suffix`);
    }
  });

  it('survives one byte per chunk', () => {
    const text = Buffer.from(`x${VALUE}y${VALUE}`);
    const chunks = [...text].map((byte) => Buffer.from([byte]));
    expect(streamAll(chunks)).toBe(`x${PH}y${PH}`);
  });

  it('holds back nothing when a chunk cannot be the start of a match (SSE latency)', () => {
    const scrubber = createStreamScrubber(rules);
    expect(scrubber.push(Buffer.from('data: hello\n\n')).toString()).toBe('data: hello\n\n');
    // A tail that could begin the value is held until the next chunk decides.
    expect(scrubber.push(Buffer.from('data: sk-li')).toString()).toBe('data: ');
    expect(scrubber.push(Buffer.from('ve-nope\n\n')).toString()).toBe('sk-live-nope\n\n');
  });

  it('scrubs header values', () => {
    expect(scrubHeaderValue(`Bearer ${VALUE}`, rules)).toBe(`Bearer ${PH}`);
    expect(scrubHeaderValue('nothing here', rules)).toBe('nothing here');
  });
});

describe('scrubbing: single pass over many rules', () => {
  const other = buildScrubRules(Buffer.from('ghp_other/value+with=specials'), 'aa-ph-gh-OTHER');
  const all = [...rules, ...other];
  const encodings = (value: Buffer) => [value.toString(), value.toString('base64'), value.toString('base64url'), encodeURIComponent(value.toString()), JSON.stringify(value.toString()).slice(1, -1)];
  const forms = [...encodings(VALUE), ...encodings(Buffer.from('ghp_other/value+with=specials'))];

  it('scrubs every encoding of every secret in large bodies (native search path) and small ones', () => {
    for (const size of [40, 5000, 70_000]) {
      const parts: string[] = [];
      for (const form of forms) parts.push('x'.repeat(size / forms.length), form);
      const text = Buffer.from(parts.join(''));
      const out = scrubBuffer(text, all).toString();
      for (const form of forms) expect(out, `size ${size}`).not.toContain(form);
    }
  });

  it('never lets a value through however the stream is cut (random chunkings, both search paths)', () => {
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const body = Buffer.from(forms.map((form, i) => `${'y'.repeat(i * 700)}${form}`).join('|'));
    for (let round = 0; round < 200; round += 1) {
      const scrubber = createStreamScrubber(all);
      const out: Buffer[] = [];
      for (let at = 0; at < body.length; ) {
        const size = 1 + random(round % 2 === 0 ? 64 : 6000);
        out.push(scrubber.push(body.subarray(at, at + size)));
        at += size;
      }
      out.push(scrubber.flush());
      const text = Buffer.concat(out).toString();
      for (const form of forms) expect(text, `round ${round}`).not.toContain(form);
      expect(text.length, `round ${round}`).toBeGreaterThan(body.length / 2);
    }
  });

  it('a value at the very end of the stream is scrubbed by flush', () => {
    const scrubber = createStreamScrubber(all);
    const head = scrubber.push(Buffer.from(`tail ${VALUE.toString().slice(0, 10)}`));
    const rest = scrubber.push(Buffer.from(VALUE.toString().slice(10)));
    expect(Buffer.concat([head, rest, scrubber.flush()]).toString()).toBe(`tail ${PH}`);
  });
});
