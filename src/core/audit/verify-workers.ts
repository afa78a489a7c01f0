// Parallel scanning for `audit verify`: chunks of whole lines go round-robin
// to worker threads that run the same scanner as the inline path (canonical
// check, field extraction, leaf hashes); this thread reads the file and runs
// the order-dependent checks (seq, prev, tree, checkpoints) as results come
// back, strictly in file order.
//
// Chunks and per-line records live in SharedArrayBuffer slots that both
// sides reuse; messages carry only slot numbers. (Transferring fresh buffers
// per chunk left tens of MiB of garbage backing stores between GCs.)
//
// The worker is started from source text (`eval`), built from the scanner's
// own function text, so it works the same from the esbuild bundle and from
// the TypeScript sources under test, with no separate entry file.
import { Worker } from 'node:worker_threads';
import { readSync } from 'node:fs';
import { hash } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { createChunkScanner, createScanRecords, type ScanRecords } from './scan.js';
import type { Checker } from './verify.js';

const LF = 0x0a;
const SLOTS_PER_WORKER = 3;
const RECORD_FIELDS = ['kind', 'start', 'end', 'seq', 'flags', 'prevState', 'link', 'tsStart', 'tsEnd', 'tsOrder', 'leafs', 'prevs'] as const;
const BYTES_PER_RECORD: Record<(typeof RECORD_FIELDS)[number], number> = {
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
};

interface Slot {
  buf: Buffer;
  records: ScanRecords;
  /** The records' shared buffers, to rebuild views in the worker. */
  shared: Record<string, SharedArrayBuffer>;
}

function createSlot(chunkSize: number, capacity: number): Slot {
  const shared: Record<string, SharedArrayBuffer> = {};
  const records = { count: 0 } as Record<string, unknown>;
  for (const name of RECORD_FIELDS) {
    const memory = new SharedArrayBuffer(capacity * BYTES_PER_RECORD[name]);
    shared[name] = memory;
    records[name] = viewOf(name, memory);
  }
  return { buf: Buffer.from(new SharedArrayBuffer(1 + chunkSize)), records: records as unknown as ScanRecords, shared };
}

function viewOf(name: string, memory: SharedArrayBuffer): unknown {
  switch (name) {
    case 'start':
    case 'end':
    case 'tsStart':
    case 'tsEnd':
      return new Int32Array(memory);
    case 'seq':
      return new Float64Array(memory);
    case 'leafs':
    case 'prevs':
      return Buffer.from(memory);
    default:
      return new Uint8Array(memory);
  }
}

function workerSource(): string {
  return `
'use strict';
const { parentPort } = require('node:worker_threads');
const { hash } = require('node:crypto');
const { isUtf8 } = require('node:buffer');
// Some transpilers wrap functions in __name(); give it a harmless definition.
const __name = (target) => target;
const createScanRecords = ${createScanRecords.toString()};
const createChunkScanner = ${createChunkScanner.toString()};
const viewOf = ${viewOf.toString()};
const scan = createChunkScanner({ hash, isUtf8 });
const slots = new Map();
parentPort.on('message', (message) => {
  if (message.slotSetup) {
    const records = { count: 0 };
    for (const name of Object.keys(message.shared)) records[name] = viewOf(name, message.shared[name]);
    slots.set(message.slot, { buf: Buffer.from(message.buffer), records, kind: records.kind });
    return;
  }
  const slot = slots.get(message.slot);
  scan(slot.buf, message.from, message.to, Buffer.from(message.origin), slot.records);
  // More lines than the shared arrays hold: the scanner grew private copies; say so.
  const overflow = slot.records.kind !== slot.kind;
  if (overflow) {
    const fresh = { count: 0 };
    for (const name of Object.keys(message.shared || {})) fresh[name] = viewOf(name, message.shared[name]);
  }
  parentPort.postMessage({ slot: message.slot, count: slot.records.count, overflow });
  if (overflow) slot.records = Object.assign({}, slot.records, { kind: slot.kind });
});
`;
}

/** Returns the offset where an unterminated last line starts (= size when none), or -1 when the checker stopped. */
export async function scanInWorkers(fd: number, size: number, chunkSize: number, threads: number, checker: Checker): Promise<number> {
  const workers = Array.from({ length: threads }, () => new Worker(workerSource(), { eval: true, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } }));
  // Typical lines are hundreds of bytes; a chunk of tiny lines overflows and is scanned here instead.
  const capacity = Math.max(256, Math.ceil(chunkSize / 48));
  const slots: { slot: Slot; worker: Worker | null; index: number }[] = [];
  for (let w = 0; w <= workers.length; w++) {
    for (let k = 0; k < SLOTS_PER_WORKER; k++) {
      const slot = createSlot(chunkSize, capacity);
      const worker = workers[w] ?? null;
      const index = slots.length;
      if (worker) worker.postMessage({ slotSetup: true, slot: index, buffer: slot.buf.buffer, shared: slot.shared });
      slots.push({ slot, worker, index });
    }
  }
  const waiting = new Map<number, { resolve: (overflow: { count: number; overflow: boolean }) => void; reject: (error: Error) => void }>();
  const failures: Error[] = [];
  for (const worker of workers) {
    worker.on('message', (message: { slot: number; count: number; overflow: boolean }) => {
      const entry = waiting.get(message.slot);
      waiting.delete(message.slot);
      entry?.resolve(message);
    });
    worker.on('error', (error) => {
      failures.push(error);
      for (const entry of waiting.values()) entry.reject(error);
      waiting.clear();
    });
  }

  const inlineScan = createChunkScanner({ hash, isUtf8 });
  let inlineRecords = createScanRecords(4096);
  const origin = new Uint8Array(checker.originJson);
  const queue: { index: number; from: number; to: number; offset: number; done: Promise<{ count: number; overflow: boolean }> | null; big: Buffer | null }[] = [];
  const freeSlots = slots.map((_, i) => i).reverse();
  let position = 0;
  let carry: Buffer | null = null;
  let stopped = false;
  let turn = 0;

  // Reads the next chunk of whole lines into a free slot; false at end of file.
  const dispatch = (): boolean => {
    while (position < size) {
      const carryLength: number = carry ? carry.length : 0;
      const want = Math.min(chunkSize - carryLength, size - position);
      const index = pickSlot(freeSlots, slots, workers.length, turn);
      const entry = slots[index] as (typeof slots)[number];
      let buf = entry.slot.buf;
      let big: Buffer | null = null;
      if (want <= 0) {
        // One line longer than a chunk: read it whole into a private buffer, scanned here.
        big = Buffer.allocUnsafe(1 + carryLength + Math.min(chunkSize, size - position));
        buf = big;
      }
      const reading = big ? big.length - 1 - carryLength : want;
      if (carry) carry.copy(buf, 1);
      let got = 0;
      while (got < reading) {
        const n = readSync(fd, buf, 1 + carryLength + got, reading - got, position + got);
        if (n === 0) break;
        got += n;
      }
      if (got === 0) {
        position = size;
        break;
      }
      const offset = position - carryLength - 1;
      position += got;
      const end: number = 1 + carryLength + got;
      const lastLf: number = buf.lastIndexOf(LF, end - 1);
      if (lastLf < 1) {
        carry = Buffer.from(buf.subarray(1, end));
        continue;
      }
      carry = lastLf + 1 < end ? Buffer.from(buf.subarray(lastLf + 1, end)) : null;
      freeSlots.splice(freeSlots.indexOf(index), 1);
      turn++;
      const job = { index, from: 1, to: lastLf + 1, offset, done: null as Promise<{ count: number; overflow: boolean }> | null, big };
      if (entry.worker && !big) {
        job.done = new Promise((resolve, reject) => waiting.set(index, { resolve, reject }));
        entry.worker.postMessage({ slot: index, from: 1, to: lastLf + 1, origin });
      }
      queue.push(job);
      return true;
    }
    return false;
  };

  try {
    while (freeSlots.length > 0 && dispatch()) {
      // fill the pipeline
    }
    while (queue.length > 0) {
      const job = queue.shift() as (typeof queue)[number];
      const entry = slots[job.index] as (typeof slots)[number];
      const buf = job.big ?? entry.slot.buf;
      let records: ScanRecords;
      const outcome = job.done ? await job.done : null;
      if (outcome && !outcome.overflow) {
        records = entry.slot.records;
        records.count = outcome.count;
      } else {
        // Scanned here: this thread's turn, an oversized line, or more lines than the slot holds.
        inlineRecords = inlineScan(buf, job.from, job.to, checker.originJson, inlineRecords);
        records = inlineRecords;
      }
      if (!stopped && !checker.consume({ buf, offset: job.offset, records })) stopped = true;
      freeSlots.push(job.index);
      if (!stopped) while (freeSlots.length > 0 && queue.length < slots.length && dispatch()) {
        // keep the pipeline full
      }
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  if (failures.length > 0) throw failures[0];
  if (stopped) return -1;
  return position - (carry ? (carry as Buffer).length : 0);
}

// Round-robin over the threads (workers first, then this one) so that work alternates.
function pickSlot(free: number[], slots: { worker: Worker | null }[], workers: number, turn: number): number {
  const wantWorker = turn % (workers + 1);
  for (const index of free) {
    const owner = Math.floor(index / SLOTS_PER_WORKER);
    if (owner === wantWorker) return index;
  }
  void slots;
  return free[free.length - 1] as number;
}
