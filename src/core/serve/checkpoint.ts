// GET /checkpoint: the latest signed checkpoint note of the audit log, so
// another machine can keep a copy (the outside copy that detects truncation
// or rollback, audit-log.md). Found by reading the log backwards from its end,
// and served only when its signature verifies with the install's vkey.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { CHECKPOINT_PREFIX } from '../audit/event.js';
import { readInto } from '../audit/line-chunks.js';
import { parseVkey } from '../audit/log-key.js';
import { openCheckpointNote } from '../audit/note.js';
import { isMissingFileError } from '../fs-safe.js';

export type CheckpointLookup = { kind: 'found'; note: string; size: number } | { kind: 'none' } | { kind: 'invalid'; reason: string };

const CHUNK = 64 * 1024;
// Checkpoints come every 1000 events at the latest while someone can sign: the
// last one is near the end. Past this much, say there is none rather than read on.
const MAX_SCAN_BYTES = 64 * 1024 * 1024;

export function createCheckpointReader(logFile: () => string, vkey: () => string): () => CheckpointLookup {
  let cachedFor = '';
  let cached: CheckpointLookup = { kind: 'none' };
  return () => {
    let fd: number;
    try {
      fd = openSync(logFile(), 'r');
    } catch (error) {
      if (isMissingFileError(error)) return { kind: 'none' };
      throw error;
    }
    try {
      const st = fstatSync(fd, { bigint: true });
      const key = `${st.ino}:${st.size}:${st.mtimeNs}:${vkey()}`;
      if (key !== cachedFor) {
        cached = checkNote(findLastCheckpointLine(fd, Number(st.size)), vkey());
        cachedFor = key;
      }
      return cached;
    } finally {
      closeSync(fd);
    }
  };
}

function checkNote(line: string | null, vkey: string): CheckpointLookup {
  if (line === null) return { kind: 'none' };
  let value: { note?: unknown; size?: unknown };
  try {
    value = JSON.parse(line) as typeof value;
  } catch {
    return { kind: 'invalid', reason: 'the last checkpoint line is not JSON' };
  }
  const key = parseVkey(vkey);
  if (typeof value.note !== 'string' || !key) return { kind: 'invalid', reason: 'the last checkpoint line has no note, or the vkey is unusable' };
  const opened = openCheckpointNote(value.note, key);
  if (!opened.ok) return { kind: 'invalid', reason: `the last checkpoint does not verify (${opened.code})` };
  if (opened.size !== value.size) return { kind: 'invalid', reason: 'the last checkpoint line disagrees with its note' };
  return { kind: 'found', note: value.note, size: opened.size };
}

/** The last complete line that is a checkpoint, reading backwards in chunks (a torn last line is skipped). */
function findLastCheckpointLine(fd: number, size: number): string | null {
  let buf = Buffer.alloc(0);
  let bufStart = size;
  let endFound = false;
  for (;;) {
    if (!endFound) {
      const lastLf = buf.lastIndexOf(0x0a);
      if (lastLf !== -1) {
        buf = buf.subarray(0, lastLf + 1);
        endFound = true;
      }
    }
    // buf ends with an LF: take lines off its end while each line's start has been read.
    while (endFound && buf.length > 0) {
      const previousLf = buf.length >= 2 ? buf.lastIndexOf(0x0a, buf.length - 2) : -1;
      if (previousLf === -1 && bufStart > 0) break;
      const line = buf.subarray(previousLf + 1, buf.length - 1);
      if (line.subarray(0, CHECKPOINT_PREFIX.length).toString('latin1') === CHECKPOINT_PREFIX) return line.toString('utf8');
      buf = buf.subarray(0, previousLf + 1);
    }
    if (bufStart === 0 || size - bufStart >= MAX_SCAN_BYTES) return null;
    const start = Math.max(0, bufStart - CHUNK);
    const chunk = Buffer.allocUnsafe(bufStart - start);
    if (readInto(fd, chunk, 0, chunk.length, start) < chunk.length) return null; // the file shrank under us: no answer this time
    buf = Buffer.concat([chunk, buf]);
    bufStart = start;
  }
}
