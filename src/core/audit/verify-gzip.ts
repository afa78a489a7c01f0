// `audit verify` of a gzipped segment (a user compressed an old segment to
// keep it small): the same scanner and checker as verify.ts, fed from a
// gunzip stream in chunks of whole lines, on this thread. Memory stays flat:
// one chunk and the line it ends in are held at a time. Byte offsets in the
// report are offsets in the uncompressed log, as in the file before gzip.
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { Checker, type VerifyOptions, type VerifyReport } from './checker.js';
import { createChunkScanner, createScanRecords } from './scan.js';

const LF = 0x0a;
const CHUNK = 1 << 20;

export async function verifyGzipLog(file: string, compressedSize: number, options: VerifyOptions): Promise<VerifyReport> {
  const checker = new Checker(file, options);
  if (checker.report.error) return checker.finish(0);
  const scan = createChunkScanner();
  let records = createScanRecords(4096);
  // buf[0] is the scanner's spare byte; [1, used) holds the carried-over line and new data.
  let buf = Buffer.allocUnsafe(1 + CHUNK);
  let used = 1;
  // Uncompressed offset of buf[1].
  let offset = 0;
  let primed = false;
  let stopped = false;
  const input = createReadStream(file);
  const gunzip = createGunzip();
  input.pipe(gunzip);

  const consumeLines = (): void => {
    const lastLf = buf.lastIndexOf(LF, used - 1);
    if (lastLf < 1) return;
    if (!primed) {
      checker.primeOrigin(buf.subarray(1, buf.indexOf(LF, 1)));
      primed = true;
    }
    records = scan(buf, 1, lastLf + 1, checker.originJson, records);
    if (!checker.consume({ buf, offset: offset - 1, records })) {
      stopped = true;
      return;
    }
    options.onProgress?.(Math.min(compressedSize, input.bytesRead));
    buf.copy(buf, 1, lastLf + 1, used);
    offset += lastLf;
    used -= lastLf;
  };

  try {
    for await (const data of gunzip as AsyncIterable<Buffer>) {
      for (let at = 0; at < data.length && !stopped; ) {
        if (used === buf.length) {
          // A line longer than the buffer: grow it (only such lines cost memory).
          const grown = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(grown, 0, 0, used);
          buf = grown;
        }
        const n = Math.min(data.length - at, buf.length - used);
        data.copy(buf, used, at, at + n);
        used += n;
        at += n;
        if (used === buf.length) consumeLines();
      }
      if (stopped) break;
    }
    if (!stopped) consumeLines();
  } catch (error) {
    const report = checker.report;
    if (!report.error) report.error = { line: 0, byte_offset: offset, seq: null, code: 'BAD_JSON', message: `the gzip stream is damaged: ${(error as Error).message}` };
    stopped = true;
  } finally {
    input.unpipe(gunzip);
    gunzip.destroy();
    input.destroy();
  }
  const size = offset + used - 1;
  return checker.finish(size, stopped ? -1 : offset);
}
