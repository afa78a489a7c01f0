// The memory a parallel `audit verify` shares with its worker threads: per
// slot, a chunk buffer and the scanner's per-line records, all over
// SharedArrayBuffers, so a message carries only a slot number. (Transferring
// fresh buffers per chunk left tens of MiB of garbage backing stores between
// collections.) Used by both sides: verify-workers.ts and verify-worker.ts.
import type { ScanRecords } from './scan.js';

const BYTES_PER_RECORD = {
  kind: 1,
  start: 4,
  end: 4,
  seq: 8,
  flags: 1,
  prevState: 1,
  link: 1,
  tsStart: 4,
  tsEnd: 4,
  tsOrder: 1,
  leafs: 32,
  prevs: 32,
} as const;

export type SharedRecords = Record<keyof typeof BYTES_PER_RECORD, SharedArrayBuffer>;

/** From the main thread: a slot's memory (once), then each chunk to scan in it. */
export type WorkerRequest =
  | { type: 'setup'; slot: number; buffer: SharedArrayBuffer; shared: SharedRecords }
  | { type: 'scan'; slot: number; from: number; to: number; origin: Uint8Array };

/** From a worker: the chunk's line count, or `overflow` when it had more lines than the slot's records hold. */
export interface WorkerReply {
  slot: number;
  count: number;
  overflow: boolean;
}

export function allocateSharedRecords(capacity: number): SharedRecords {
  const shared = {} as Record<string, SharedArrayBuffer>;
  for (const [name, bytes] of Object.entries(BYTES_PER_RECORD)) shared[name] = new SharedArrayBuffer(capacity * bytes);
  return shared as SharedRecords;
}

/** Typed views over shared record memory, as the scanner fills them. */
export function recordsOver(shared: SharedRecords): ScanRecords {
  return {
    count: 0,
    kind: new Uint8Array(shared.kind),
    start: new Int32Array(shared.start),
    end: new Int32Array(shared.end),
    seq: new Float64Array(shared.seq),
    flags: new Uint8Array(shared.flags),
    prevState: new Uint8Array(shared.prevState),
    link: new Uint8Array(shared.link),
    tsStart: new Int32Array(shared.tsStart),
    tsEnd: new Int32Array(shared.tsEnd),
    tsOrder: new Uint8Array(shared.tsOrder),
    leafs: Buffer.from(shared.leafs),
    prevs: Buffer.from(shared.prevs),
  };
}
