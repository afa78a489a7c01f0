// Reading a log in chunks of complete lines, with memory that does not grow
// with the file: every reader of the log (verify on one thread or several,
// proofs, the writer's scans) goes through this one.
import { readSync } from 'node:fs';

const LF = 0x0a;
// Fewer free bytes than this after the carried-over part of a line: read into a bigger buffer.
const MIN_READ = 64;

export interface LineChunk {
  /** Holds the chunk's lines at [from, to); buf[from - 1] is a spare byte a scanner may overwrite. */
  buf: Buffer;
  from: number;
  /** Just after the chunk's last LF. */
  to: number;
  /** File offset of buf[0]: the line at buf[i] starts at file offset `offset + i`. */
  offset: number;
  /** True when a line did not fit the buffer given to `next` and the chunk is in one of its own. */
  oversized: boolean;
}

/**
 * Reads [start, end) of a file as chunks of whole lines. Each chunk goes into
 * the buffer the caller passes (byte 0 kept spare), so one buffer can be
 * reused for a whole file, or several rotated between threads; the partial
 * line at a chunk's end is carried over to the next one. An unterminated
 * last line is never returned: `restStart` says where it begins.
 */
export class LineChunkReader {
  private position: number;
  private carry = Buffer.alloc(256);
  private carryLength = 0;

  constructor(
    private readonly fd: number,
    private readonly end: number,
    start = 0,
  ) {
    this.position = start;
  }

  /** Where what follows the last complete line returned starts (= end when the file ends with LF). Final once `next` returned null. */
  get restStart(): number {
    return this.position - this.carryLength;
  }

  next(into: Buffer): LineChunk | null {
    while (this.position < this.end) {
      const carried = this.carryLength;
      // A line longer than the buffer: give it one of its own (only such lines cost memory).
      const buf = 1 + carried + MIN_READ > into.length ? Buffer.allocUnsafe(Math.max(into.length, 1 + carried + MIN_READ) * 2) : into;
      this.carry.copy(buf, 1, 0, carried);
      const want = Math.min(buf.length - 1 - carried, this.end - this.position);
      const got = readInto(this.fd, buf, 1 + carried, want, this.position);
      if (got === 0) {
        // The file shrank under us: what is carried is an unterminated rest.
        this.position = this.end;
        break;
      }
      const offset = this.position - carried - 1;
      this.position += got;
      const stop = 1 + carried + got;
      const lastLf = buf.lastIndexOf(LF, stop - 1);
      if (lastLf < 1) {
        this.keep(buf, 1, stop);
        continue;
      }
      this.keep(buf, lastLf + 1, stop);
      return { buf, from: 1, to: lastLf + 1, offset, oversized: buf !== into };
    }
    return null;
  }

  private keep(buf: Buffer, start: number, stop: number): void {
    const length = stop - start;
    if (this.carry.length < length) this.carry = Buffer.allocUnsafe(Math.max(length, this.carry.length * 2));
    buf.copy(this.carry, 0, start, stop);
    this.carryLength = length;
  }
}

/** Reads up to `length` bytes at `position`; fewer only at the end of the file. */
export function readInto(fd: number, buf: Buffer, at: number, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, at + got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Calls `visit` with each complete line of [start, end) (without its LF) and its file offset; stops when it returns false. */
export function forEachLine(fd: number, end: number, start: number, visit: (line: Buffer, at: number) => boolean | void): number {
  const reader = new LineChunkReader(fd, end, start);
  const buf = Buffer.allocUnsafe(1 + Math.min(1 << 20, Math.max(4096, end - start)));
  for (let chunk = reader.next(buf); chunk; chunk = reader.next(buf)) {
    for (let s = chunk.from; s < chunk.to; ) {
      const e = chunk.buf.indexOf(LF, s);
      if (visit(chunk.buf.subarray(s, e), chunk.offset + s) === false) return -1;
      s = e + 1;
    }
  }
  return reader.restStart;
}
