// Reading the end of the log without reading the whole file.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const BLOCK = 64 * 1024;

/** The last `count` complete lines (an unterminated last fragment is ignored), oldest first. */
export function readTailLines(file: string, count: number): string[] {
  if (count <= 0) return [];
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    let end = size;
    let chunks: Buffer[] = [];
    let lfs = 0;
    let position = size;
    // Stop once count + 1 LFs are in hand (the extra one bounds the oldest line), or at the start.
    while (position > 0 && lfs <= count) {
      const length = Math.min(BLOCK, position);
      position -= length;
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, position);
      for (const byte of buf) if (byte === 0x0a) lfs++;
      chunks = [buf, ...chunks];
    }
    const text = Buffer.concat(chunks);
    const lastLf = text.lastIndexOf(0x0a);
    if (lastLf < 0) return [];
    end = lastLf;
    const lines = text.subarray(0, end).toString('utf8').split('\n');
    // When we did not reach the start of the file, the first piece may be partial.
    if (position > 0) lines.shift();
    return lines.slice(-count);
  } finally {
    closeSync(fd);
  }
}
