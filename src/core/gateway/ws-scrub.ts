// Scrubs the real value out of WebSocket traffic from the upstream (RFC 6455
// server-to-client frames). The gateway strips Sec-WebSocket-Extensions from
// the upgrade request, so no permessage-deflate: payloads are plain bytes.
//
// A value can be split across frames of one message and across TCP chunks,
// so each data message gets its own stream scrubber and frames are re-framed
// as their scrubbed bytes become available (RFC 6455 §5.4 lets an
// intermediary change fragmentation when no extension is negotiated). A
// frame that arrives whole and needs no change is passed on byte for byte.
import { createStreamScrubber, scrubBuffer, type ScrubRule, type StreamScrubber } from './scrub.js';

const OP_CONTINUATION = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const CONTROL_MAX = 125;

export class WsProtocolError extends Error {}

export interface WsFrameScrubber {
  /** Bytes from the upstream in; scrubbed frames out (possibly empty). Throws WsProtocolError on frames it cannot vouch for. */
  push(chunk: Buffer): Buffer;
}

interface Frame {
  fin: boolean;
  opcode: number;
  /** Payload bytes still to come. */
  remaining: number;
  /** Control frames are collected whole (≤ 125 bytes) and scrubbed at once. */
  control: Buffer[] | null;
}

export function createWsFrameScrubber(rules: readonly ScrubRule[]): WsFrameScrubber {
  let header: Buffer | null = null;
  let frame: Frame | null = null;
  // The data message in progress: its scrubber and the opcode its first emitted frame must carry (0 once sent).
  let message: { scrubber: StreamScrubber; opcode: number } | null = null;

  const startFrame = (fin: boolean, opcode: number, length: number): void => {
    const control = opcode >= 0x8;
    if (control) {
      if (!fin || length > CONTROL_MAX) throw new WsProtocolError('fragmented or oversized control frame');
      if (opcode > 0xa) throw new WsProtocolError(`reserved opcode ${opcode}`);
    } else if (opcode === OP_CONTINUATION) {
      if (!message) throw new WsProtocolError('continuation frame outside a message');
    } else if (opcode === OP_TEXT || opcode === OP_BINARY) {
      if (message) throw new WsProtocolError('new message before the previous one ended');
      message = { scrubber: createStreamScrubber(rules), opcode };
    } else {
      throw new WsProtocolError(`reserved opcode ${opcode}`);
    }
    frame = { fin, opcode, remaining: length, control: control ? [] : null };
  };

  return {
    push(chunk) {
      const out: Buffer[] = [];
      let data = header ? Buffer.concat([header, chunk]) : chunk;
      header = null;
      let at = 0;
      while (at < data.length) {
        if (!frame) {
          const parsed = parseHeader(data, at);
          if (!parsed) {
            // A header split across chunks: keep its bytes for the next one.
            header = Buffer.from(data.subarray(at));
            break;
          }
          startFrame(parsed.fin, parsed.opcode, parsed.length);
          const current = frame as Frame | null;
          at += parsed.headerLength;
          if (current && !current.control && current.fin && message && at + parsed.length <= data.length) {
            // A whole, final frame in this chunk: one scan, and when nothing
            // changes and nothing is held, it goes out as it came.
            const payload = data.subarray(at, at + parsed.length);
            const scrubbed = message.scrubber.push(payload);
            if (scrubbed === payload && !message.scrubber.holding() && message.opcode === current.opcode) {
              out.push(data.subarray(at - parsed.headerLength, at + parsed.length));
            } else {
              const final = Buffer.concat([scrubbed, message.scrubber.flush()]);
              out.push(encodeHeader(true, message.opcode, final.length), final);
            }
            at += parsed.length;
            frame = null;
            message = null;
            continue;
          }
          if (current && current.remaining > 0) continue;
        }
        const current = frame!;
        const take = Math.min(current.remaining, data.length - at);
        const piece = data.subarray(at, at + take);
        at += take;
        current.remaining -= take;
        const done = current.remaining === 0;
        if (current.control) {
          current.control.push(piece);
          if (done) {
            out.push(encodeControl(current.opcode, scrubBuffer(Buffer.concat(current.control), rules)));
            frame = null;
          }
          continue;
        }
        const msg = message!;
        let payload = msg.scrubber.push(piece);
        const last = done && current.fin;
        if (last) payload = payload.length === 0 ? msg.scrubber.flush() : Buffer.concat([payload, msg.scrubber.flush()]);
        if (payload.length > 0 || last) {
          out.push(encodeHeader(last, msg.opcode, payload.length), payload);
          msg.opcode = OP_CONTINUATION;
        }
        if (done) frame = null;
        if (last) message = null;
      }
      if (out.length === 0) return Buffer.alloc(0);
      return out.length === 1 ? out[0]! : Buffer.concat(out);
    },
  };
}

function parseHeader(data: Buffer, at: number): { fin: boolean; opcode: number; length: number; headerLength: number } | null {
  if (data.length - at < 2) return null;
  const b0 = data[at]!;
  const b1 = data[at + 1]!;
  // RSV bits mean an extension we did not negotiate (e.g. compressed frames we could not scrub).
  if ((b0 & 0x70) !== 0) throw new WsProtocolError('reserved bits set');
  // Server frames are never masked (RFC 6455 §5.1); a client must fail such a connection anyway.
  if ((b1 & 0x80) !== 0) throw new WsProtocolError('masked frame from the server');
  let length = b1 & 0x7f;
  let headerLength = 2;
  if (length === 126) {
    if (data.length - at < 4) return null;
    length = data.readUInt16BE(at + 2);
    headerLength = 4;
  } else if (length === 127) {
    if (data.length - at < 10) return null;
    const big = data.readBigUInt64BE(at + 2);
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new WsProtocolError('frame too large');
    length = Number(big);
    headerLength = 10;
  }
  return { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, length, headerLength };
}

function encodeHeader(fin: boolean, opcode: number, length: number): Buffer {
  const b0 = (fin ? 0x80 : 0) | opcode;
  if (length < 126) return Buffer.from([b0, length]);
  if (length < 65536) {
    const head = Buffer.allocUnsafe(4);
    head[0] = b0;
    head[1] = 126;
    head.writeUInt16BE(length, 2);
    return head;
  }
  const head = Buffer.allocUnsafe(10);
  head[0] = b0;
  head[1] = 127;
  head.writeBigUInt64BE(BigInt(length), 2);
  return head;
}

/**
 * Control payloads are at most 125 bytes; a placeholder longer than the value
 * could push a scrubbed one over. Then a close frame keeps only its status
 * code, and a ping/pong payload is cut (it carries no meaning to the child).
 */
function encodeControl(opcode: number, payload: Buffer): Buffer {
  let body = payload;
  if (body.length > CONTROL_MAX) body = opcode === OP_CLOSE ? body.subarray(0, 2) : body.subarray(0, CONTROL_MAX);
  return Buffer.concat([encodeHeader(true, opcode, body.length), body]);
}
