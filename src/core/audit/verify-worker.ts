// A worker thread of a parallel `audit verify` (started by verify-workers.ts;
// bundled as an entry of its own by scripts/build.mjs). It runs the same
// chunk scanner as the main thread over slots of shared memory.
import { parentPort } from 'node:worker_threads';
import { createChunkScanner, type ScanRecords } from './scan.js';
import { recordsOver, type SharedRecords, type WorkerReply, type WorkerRequest } from './scan-slots.js';

interface Slot {
  buf: Buffer;
  shared: SharedRecords;
  records: ScanRecords;
}

const port = parentPort;
if (port) {
  const scan = createChunkScanner();
  const slots = new Map<number, Slot>();
  port.on('message', (message: WorkerRequest) => {
    if (message.type === 'setup') {
      slots.set(message.slot, { buf: Buffer.from(message.buffer), shared: message.shared, records: recordsOver(message.shared) });
      return;
    }
    const slot = slots.get(message.slot)!;
    const records = scan(slot.buf, message.from, message.to, Buffer.from(message.origin), slot.records);
    // More lines than the shared arrays hold: the scanner grew private copies,
    // which the main thread cannot see; it scans this chunk itself.
    const overflow = records.kind.buffer !== slot.shared.kind;
    if (overflow) slot.records = recordsOver(slot.shared);
    const reply: WorkerReply = { slot: message.slot, count: records.count, overflow };
    port.postMessage(reply);
  });
}
