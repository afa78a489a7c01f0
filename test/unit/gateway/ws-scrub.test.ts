import { describe, expect, it } from 'vitest';
import { buildScrubRules } from '../../../src/core/gateway/scrub.js';
import { createWsFrameScrubber, WsProtocolError } from '../../../src/core/gateway/ws-scrub.js';

const VALUE = 'sk-live-0123456789abcdefXYZ';
const PH = 'aa-ph-up-PLACEHOLDER-that-is-longer';
const rules = buildScrubRules(Buffer.from(VALUE), PH);

/** A server frame (unmasked), with the length encoding RFC 6455 prescribes. */
function frame(opcode: number, payload: Buffer | string, fin = true, extra = 0): Buffer {
  const body = Buffer.from(payload);
  const b0 = (fin ? 0x80 : 0) | extra | opcode;
  if (body.length < 126) return Buffer.concat([Buffer.from([b0, body.length]), body]);
  if (body.length < 65536) {
    const head = Buffer.from([b0, 126, 0, 0]);
    head.writeUInt16BE(body.length, 2);
    return Buffer.concat([head, body]);
  }
  const head = Buffer.alloc(10);
  head[0] = b0;
  head[1] = 127;
  head.writeBigUInt64BE(BigInt(body.length), 2);
  return Buffer.concat([head, body]);
}

interface Decoded {
  opcode: number;
  payload: string;
}

/** Decodes frames into messages (fragments joined) and control frames, checking the framing is valid. */
function decode(bytes: Buffer): Decoded[] {
  const out: Decoded[] = [];
  let message: { opcode: number; parts: Buffer[] } | null = null;
  let at = 0;
  while (at < bytes.length) {
    const b0 = bytes[at]!;
    const b1 = bytes[at + 1]!;
    expect(b1 & 0x80, 'unmasked').toBe(0);
    expect(b0 & 0x70, 'no RSV bits').toBe(0);
    let length = b1 & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      length = bytes.readUInt16BE(at + 2);
      offset = at + 4;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(at + 2));
      offset = at + 10;
    }
    const payload = bytes.subarray(offset, offset + length);
    expect(payload.length, 'complete frame').toBe(length);
    at = offset + length;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    if (opcode >= 0x8) {
      expect(length).toBeLessThanOrEqual(125);
      out.push({ opcode, payload: payload.toString() });
      continue;
    }
    if (opcode === 0) expect(message, 'continuation inside a message').not.toBeNull();
    else {
      expect(message, 'no nested message').toBeNull();
      message = { opcode, parts: [] };
    }
    message!.parts.push(payload);
    if (fin) {
      out.push({ opcode: message!.opcode, payload: Buffer.concat(message!.parts).toString() });
      message = null;
    }
  }
  expect(message, 'every message finished').toBeNull();
  return out;
}

function run(chunks: Buffer[]): Buffer {
  const scrubber = createWsFrameScrubber(rules);
  return Buffer.concat(chunks.map((chunk) => scrubber.push(chunk)));
}

describe('WebSocket frame scrubbing (server to client)', () => {
  it('replaces the value in a text frame and fixes the frame length', () => {
    const out = run([frame(0x1, `{"key":"${VALUE}"}`)]);
    expect(out.toString()).not.toContain(VALUE);
    expect(decode(out)).toEqual([{ opcode: 0x1, payload: `{"key":"${PH}"}` }]);
  });

  it('passes a frame that holds no value through byte for byte', () => {
    const input = Buffer.concat([frame(0x1, 'hello'), frame(0x2, Buffer.from([1, 2, 3])), frame(0x9, 'ping')]);
    expect(run([input]).equals(input)).toBe(true);
  });

  it('catches the value split across the frames of one message and across TCP chunks, at every cut', () => {
    const half = Math.floor(VALUE.length / 2);
    const input = Buffer.concat([
      frame(0x1, `a:${VALUE.slice(0, half)}`, false),
      // A control frame may arrive between the fragments of a message.
      frame(0x9, 'keepalive'),
      frame(0x0, `${VALUE.slice(half)}:b`, false),
      frame(0x0, `:${VALUE}`, true),
      frame(0x2, Buffer.from(`bin ${VALUE}`)),
    ]);
    for (let cut = 1; cut < input.length; cut += 1) {
      const out = run([input.subarray(0, cut), input.subarray(cut)]);
      expect(out.toString(), `cut ${cut}`).not.toContain(VALUE);
      expect(decode(out), `cut ${cut}`).toEqual([
        { opcode: 0x9, payload: 'keepalive' },
        { opcode: 0x1, payload: `a:${PH}:b:${PH}` },
        { opcode: 0x2, payload: `bin ${PH}` },
      ]);
    }
  });

  it('survives one byte per chunk', () => {
    const input = Buffer.concat([frame(0x1, `x${VALUE}y`), frame(0x1, Buffer.from(VALUE).toString('base64'))]);
    const out = run([...input].map((byte) => Buffer.from([byte])));
    expect(decode(out)).toEqual([
      { opcode: 0x1, payload: `x${PH}y` },
      { opcode: 0x1, payload: PH },
    ]);
  });

  it('handles 16- and 64-bit payload lengths', () => {
    const medium = `${'m'.repeat(300)}${VALUE}${'m'.repeat(300)}`;
    const large = `${'l'.repeat(70_000)}${VALUE}`;
    const input = Buffer.concat([frame(0x1, medium), frame(0x2, large)]);
    const chunks: Buffer[] = [];
    for (let at = 0; at < input.length; at += 16_384) chunks.push(input.subarray(at, at + 16_384));
    expect(decode(run(chunks))).toEqual([
      { opcode: 0x1, payload: medium.replace(VALUE, PH) },
      { opcode: 0x2, payload: large.replace(VALUE, PH) },
    ]);
  });

  it('keeps a scrubbed control frame within 125 bytes', () => {
    const close = Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from(`${'r'.repeat(90)}${VALUE}`)]);
    const out = run([frame(0x8, close)]);
    expect(out.toString()).not.toContain(VALUE);
    const [decoded] = decode(out);
    expect(decoded!.opcode).toBe(0x8);
  });

  it('refuses frames it cannot vouch for: masked, extension bits, reserved opcodes, broken fragmentation', () => {
    const masked = Buffer.concat([Buffer.from([0x81, 0x80 | 2, 1, 2, 3, 4]), Buffer.from('hi')]);
    expect(() => run([masked])).toThrow(WsProtocolError);
    expect(() => run([frame(0x1, 'compressed', true, 0x40)])).toThrow(WsProtocolError);
    expect(() => run([frame(0x3, 'reserved')])).toThrow(WsProtocolError);
    expect(() => run([frame(0x0, 'orphan continuation')])).toThrow(WsProtocolError);
    expect(() => run([Buffer.concat([frame(0x1, 'a', false), frame(0x1, 'b')])])).toThrow(WsProtocolError);
  });
});
