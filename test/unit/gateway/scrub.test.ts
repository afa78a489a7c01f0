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
