// `audit verify`: one streaming pass over the log with flat memory. Chunks of
// whole lines (line-chunks.ts) are scanned (canonical form, fields, leaf
// hashes: scan.ts) on this thread or on worker threads (verify-workers.ts);
// the chain, the tree and the checkpoints are then checked in file order
// (checker.ts).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Checker, type VerifyOptions, type VerifyReport } from './checker.js';
import { LineChunkReader } from './line-chunks.js';
import { createChunkScanner, createScanRecords } from './scan.js';

export { openTrustedCheckpoint, type TrustedCheckpoint, type VerifyErrorCode, type VerifyIssue, type VerifyOptions, type VerifyReport, type VerifyWarningCode } from './checker.js';

const LF = 0x0a;
const DEFAULT_CHUNK = 1 << 20;
const PARALLEL_MIN_BYTES = 8 << 20;

export async function verifyLogFile(file: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    // A sealed segment the user compressed is read through gunzip (verify-gzip.ts), transparently.
    if (isGzip(fd, size)) {
      const { verifyGzipLog } = await import('./verify-gzip.js');
      return await verifyGzipLog(file, size, options);
    }
    // Worker threads beside this one; this thread scans its share too.
    const wanted = options.onEvent ? 0 : (options.threads ?? (size >= PARALLEL_MIN_BYTES ? Math.min(3, availableParallelism() - 1) : 0));
    const checker = new Checker(file, options);
    if (checker.report.error) return checker.finish(size);
    checker.primeOrigin(readFirstLine(fd, size));
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
    const reader = new LineChunkReader(fd, size);
    if (wanted > 0) {
      const { scanInWorkers } = await import('./verify-workers.js');
      checker.report.threads = wanted;
      const completed = await scanInWorkers(reader, chunkSize, wanted, checker, options.workerUrl, options.onProgress);
      return checker.finish(size, completed ? reader.restStart : -1);
    }
    return checker.finish(size, scanInline(reader, chunkSize, checker, options.onProgress) ? reader.restStart : -1);
  } finally {
    closeSync(fd);
  }
}

function isGzip(fd: number, size: number): boolean {
  if (size < 2) return false;
  const magic = Buffer.alloc(2);
  readSync(fd, magic, 0, 2, 0);
  return magic[0] === 0x1f && magic[1] === 0x8b;
}

// The origin every line must carry: the trusted vkey's name, else the first line's.
function readFirstLine(fd: number, size: number): Buffer {
  const buf = Buffer.alloc(Math.min(size, 1 << 20));
  const n = buf.length > 0 ? readSync(fd, buf, 0, buf.length, 0) : 0;
  const lf = buf.subarray(0, n).indexOf(LF);
  return buf.subarray(0, lf < 0 ? n : lf);
}

/** Scans and checks every chunk on this thread, reusing one buffer; false when the checker stopped. */
function scanInline(reader: LineChunkReader, chunkSize: number, checker: Checker, onProgress?: (bytes: number) => void): boolean {
  const scan = createChunkScanner();
  let records = createScanRecords(4096);
  const buf = Buffer.allocUnsafeSlow(1 + chunkSize);
  for (let chunk = reader.next(buf); chunk; chunk = reader.next(buf)) {
    records = scan(chunk.buf, chunk.from, chunk.to, checker.originJson, records);
    if (!checker.consume({ buf: chunk.buf, offset: chunk.offset, records })) return false;
    onProgress?.(chunk.offset + chunk.to);
  }
  return true;
}
