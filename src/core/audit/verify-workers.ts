// Parallel scanning for `audit verify`: chunks of whole lines go round-robin
// to worker threads (verify-worker.ts) that run the same scanner as the
// inline path (canonical check, field extraction, leaf hashes); this thread
// reads the file, scans its own share, and hands every chunk's records to the
// consumer (the Checker) strictly in file order.
import { Worker } from 'node:worker_threads';
import type { LineChunk, LineChunkReader } from './line-chunks.js';
import { createChunkScanner, createScanRecords, type ChunkConsumer, type ScanRecords } from './scan.js';
import { allocateSharedRecords, recordsOver, type SharedRecords, type WorkerReply, type WorkerRequest } from './scan-slots.js';

// Chunks in flight per thread. This thread also runs the checker (chain,
// Merkle tree, checkpoints: about a third of a line's cost), so it scans
// fewer chunks than a worker: each slot is refilled by the thread that owns
// it, so the slot counts set the shares (1 of 3 chunks here with one worker).
const SLOTS_PER_WORKER = 4;
const SLOTS_HERE = 2;

interface Slot {
  buf: Buffer;
  records: ScanRecords;
  shared: SharedRecords;
  /** null: this thread's own slot. */
  worker: Worker | null;
}

interface Job {
  slot: number;
  chunk: LineChunk;
  /** The worker's reply; null when this thread scans the chunk. */
  done: Promise<WorkerReply> | null;
}

/**
 * Where the worker module is. The build emits it next to the chunk this file
 * is bundled into (scripts/build.mjs checks that); from the TypeScript
 * sources, tests pass a URL of their own.
 */
function defaultWorkerUrl(): URL {
  return new URL('./verify-worker.js', import.meta.url);
}

/** Feeds every chunk of `reader` to `consumer`; true when it reached the end, false when the consumer stopped. */
export async function scanInWorkers(reader: LineChunkReader, chunkSize: number, threads: number, consumer: ChunkConsumer, workerUrl: URL = defaultWorkerUrl(), onProgress?: (bytes: number) => void): Promise<boolean> {
  const workers = Array.from({ length: threads }, () => new Worker(workerUrl, { resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } }));
  // Typical lines are hundreds of bytes; a chunk of tiny lines overflows and is scanned here instead.
  const capacity = Math.max(256, Math.ceil(chunkSize / 48));
  const slots: Slot[] = [];
  for (let w = 0; w <= workers.length; w++) {
    for (let k = 0; k < (w < workers.length ? SLOTS_PER_WORKER : SLOTS_HERE); k++) {
      const shared = allocateSharedRecords(capacity);
      const buffer = new SharedArrayBuffer(1 + chunkSize);
      const worker = workers[w] ?? null;
      const slot = slots.length;
      if (worker) worker.postMessage({ type: 'setup', slot, buffer, shared } satisfies WorkerRequest);
      slots.push({ buf: Buffer.from(buffer), records: recordsOver(shared), shared, worker });
    }
  }
  const waiting = new Map<number, { resolve: (reply: WorkerReply) => void; reject: (error: Error) => void }>();
  const failures: Error[] = [];
  for (const worker of workers) {
    worker.on('message', (reply: WorkerReply) => {
      const entry = waiting.get(reply.slot);
      waiting.delete(reply.slot);
      entry?.resolve(reply);
    });
    worker.on('error', (error) => {
      failures.push(error);
      for (const entry of waiting.values()) entry.reject(error);
      waiting.clear();
    });
  }

  const scanHere = createChunkScanner();
  let ownRecords = createScanRecords(4096);
  const origin = new Uint8Array(consumer.originJson);
  const queue: Job[] = [];
  const free = slots.map((_, i) => i).reverse();
  let turn = 0;

  // Reads the next chunk into a free slot and starts its scan; false at the end of the file.
  const dispatch = (): boolean => {
    const slot = pickSlot(free, workers.length, turn);
    const entry = slots[slot]!;
    const chunk = reader.next(entry.buf);
    if (!chunk) return false;
    free.splice(free.indexOf(slot), 1);
    turn++;
    const job: Job = { slot, chunk, done: null };
    // An oversized line came back in a buffer of its own, which the worker cannot see.
    if (entry.worker && !chunk.oversized) {
      job.done = new Promise((resolve, reject) => waiting.set(slot, { resolve, reject }));
      entry.worker.postMessage({ type: 'scan', slot, from: chunk.from, to: chunk.to, origin } satisfies WorkerRequest);
    }
    queue.push(job);
    return true;
  };

  let stopped = false;
  try {
    while (free.length > 0 && dispatch()) {
      // fill the pipeline
    }
    while (queue.length > 0) {
      const job = queue.shift()!;
      const { chunk } = job;
      const reply = job.done ? await job.done : null;
      let records: ScanRecords;
      if (reply && !reply.overflow) {
        records = slots[job.slot]!.records;
        records.count = reply.count;
      } else {
        // This thread's turn, an oversized line, or more lines than the slot holds.
        ownRecords = scanHere(chunk.buf, chunk.from, chunk.to, consumer.originJson, ownRecords);
        records = ownRecords;
      }
      if (!stopped && !consumer.consume({ buf: chunk.buf, offset: chunk.offset, records })) stopped = true;
      onProgress?.(chunk.offset + chunk.to);
      free.push(job.slot);
      if (!stopped) {
        while (free.length > 0 && queue.length < slots.length && dispatch()) {
          // keep the pipeline full
        }
      }
    }
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  if (failures.length > 0) throw failures[0];
  return !stopped;
}

// Round-robin over the threads (workers first, then this one) so that work alternates.
function pickSlot(free: readonly number[], workers: number, turn: number): number {
  const wanted = turn % (workers + 1);
  for (const slot of free) if (Math.min(Math.floor(slot / SLOTS_PER_WORKER), workers) === wanted) return slot;
  return free[free.length - 1]!;
}
