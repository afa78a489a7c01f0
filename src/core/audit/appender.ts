// Group commit for long-running writers (the `run` gateway appends one event
// per proxied request). Appends queue up for a short window and are then
// written as one lock → write → fsync; each promise resolves only once its
// event is durable. Other processes still append in between: every batch
// takes the log lock and revalidates the cached tail (see writer.ts), so
// nothing forks.
//
// Queued events are kept as bytes, not objects. They wait a group-commit
// window, which is long enough for V8 to promote queued objects to the old
// generation, where they pile up until the next full collection: at 8k
// requests/s that grew the gateway's heap by ~1.5 MiB/s. Each event is
// serialised (and validated) when it is queued, into one growing buffer.
import { withFileLock } from '../lock.js';
import { serializeEventHead, type AuditEventInput, type PreparedEvent } from './event.js';
import type { LogSigner } from './log-key.js';
import { createWriterMemory } from './vouch.js';
import { saveTailState } from './tail-state.js';
import { appendLocked, type AppendOptions } from './writer.js';

export interface AuditAppenderOptions {
  file: string;
  origin: string;
  vkey?: string;
  /** Signs the automatic checkpoints (1000 events / 1 hour); without it they wait for a writer that can. */
  signer?: LogSigner;
  recoverActor?: Record<string, unknown>;
  /** Most events per write (default 512). */
  maxBatch?: number;
  /**
   * The group-commit window in ms (default 2): how long the first event of a
   * batch waits for company, and the least time between two batches' starts.
   * It bounds fsyncs to ~1000/window per second under load.
   */
  maxDelayMs?: number;
  /** Least time between two saves of the `.state` cache (default 1000 ms; always saved on checkpoint and close). */
  saveStateEveryMs?: number;
  /** Start a new segment once the live file reaches this size (`audit.rotate-bytes`). */
  rotateBytes?: number;
  /** Where a failed write of events given to `push` is reported (once per failed batch). */
  onError?: (error: unknown) => void;
  now?: () => Date;
}

export interface AuditAppender {
  /** Resolves with the event's seq once it is fsynced. */
  append(event: AuditEventInput): Promise<number>;
  /** Queues an event without a promise to wait on (a gateway's per-request events); failures go to `onError`. */
  push(event: AuditEventInput): void;
  /** Appends a checkpoint now (end of a run). Resolves once durable; rejects (AUDIT_CHECKPOINT_REFUSED) when the log could not be vouched for, and nothing was signed. */
  checkpoint(): Promise<void>;
  /** Flushes what is queued and saves the state cache; later appends are refused. */
  close(): Promise<void>;
  /** Events accepted but not yet handed to a write. */
  pending(): number;
}

/** Someone waiting for event number `event` (counted since the appender started), or for a checkpoint covering every event before it. */
interface Waiter {
  event: number;
  checkpoint: boolean;
  resolve: (seq: number) => void;
  reject: (error: unknown) => void;
}

export function createAuditAppender(options: AuditAppenderOptions): AuditAppender {
  const maxBatch = options.maxBatch ?? 512;
  const windowMs = options.maxDelayMs ?? 2;
  const saveEveryMs = options.saveStateEveryMs ?? 1000;
  const queue = createEventQueue();
  // Few and short-lived: only `append` and `checkpoint` callers wait.
  let waiters: Waiter[] = [];
  // The log's tail, the last checkpoint this writer vouched for, and the events it wrote since (vouch.ts).
  const memory = createWriterMemory();
  let stateSavedAt = Number.NEGATIVE_INFINITY;
  let stateDirty = false;
  let running: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  const base: AppendOptions = { origin: options.origin };
  if (options.vkey !== undefined) base.vkey = options.vkey;
  if (options.signer !== undefined) {
    const signer = options.signer;
    base.signer = () => signer;
  }
  if (options.recoverActor !== undefined) base.recoverActor = options.recoverActor;
  if (options.now !== undefined) base.now = options.now;
  if (options.rotateBytes !== undefined) base.rotateBytes = options.rotateBytes;

  const checkpointWanted = (): boolean => waiters.some((waiter) => waiter.checkpoint && waiter.event <= queue.taken());

  const writeBatch = async (): Promise<void> => {
    const first = queue.taken();
    const events = queue.take(maxBatch);
    const end = queue.taken();
    // A checkpoint asked for before the end of this batch's events is written with it.
    const force = waiters.some((waiter) => waiter.checkpoint && waiter.event <= end);
    const saveState = force || performance.now() - stateSavedAt >= saveEveryMs;
    const done = waiters.filter((waiter) => (waiter.checkpoint ? waiter.event <= end : waiter.event < end));
    waiters = waiters.filter((waiter) => !done.includes(waiter));
    try {
      const result = await withFileLock(options.file, () => appendLocked(options.file, events, { ...base, forceCheckpoint: force, saveState }, memory));
      stateDirty = !saveState;
      if (saveState) stateSavedAt = performance.now();
      for (const waiter of done) {
        if (!waiter.checkpoint) waiter.resolve(result.seqs[waiter.event - first] as number);
        else if (result.refused) waiter.reject(result.refused);
        else waiter.resolve(result.size);
      }
    } catch (error) {
      // The cache may be out of date after a failure: rebuild it next time.
      memory.state = null;
      for (const waiter of done) waiter.reject(error);
      // Pushed events have nobody waiting on them: report the batch once.
      if (done.filter((waiter) => !waiter.checkpoint).length < events.length) options.onError?.(error);
    }
  };

  const drain = (): void => {
    if (running || (queue.length() === 0 && !checkpointWanted())) return;
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    running = (async () => {
      while (queue.length() > 0 || checkpointWanted()) {
        const started = performance.now();
        await writeBatch();
        // Under steady load, let the next batch gather for the rest of the window
        // instead of writing (and fsyncing) whatever trickled in meanwhile.
        const rest = windowMs - (performance.now() - started);
        if (!closed && rest > 0 && queue.length() > 0 && queue.length() < maxBatch) await new Promise((resolve) => setTimeout(resolve, rest));
      }
    })().finally(() => {
      running = null;
      // Appends that arrived while the loop was ending would otherwise wait forever.
      if (queue.length() > 0 || checkpointWanted()) schedule();
    });
  };

  const schedule = (): void => {
    if (running) return; // the running loop picks the new entries up
    if (queue.length() >= maxBatch || closed || checkpointWanted()) drain();
    else timer ??= setTimeout(() => {
      timer = null;
      drain();
    }, windowMs);
  };

  const wait = (event: number, checkpoint: boolean): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      waiters.push({ event, checkpoint, resolve, reject });
      schedule();
    });

  return {
    append(event) {
      if (closed) return Promise.reject(new Error('the audit appender is closed'));
      let number: number;
      try {
        number = queue.add(event);
      } catch (error) {
        return Promise.reject(error);
      }
      return wait(number, false);
    },
    push(event) {
      if (closed) return;
      try {
        queue.add(event);
      } catch (error) {
        options.onError?.(error);
        return;
      }
      schedule();
    },
    async checkpoint() {
      if (closed) throw new Error('the audit appender is closed');
      await wait(queue.taken() + queue.length(), true);
    },
    async close() {
      closed = true;
      drain();
      while (running) await running;
      if (stateDirty && memory.state) {
        const last = memory.state;
        await withFileLock(options.file, () => saveTailState(options.file, last)).catch(() => {
          // Only a cache: the next writer rebuilds it from the log.
        });
        stateDirty = false;
      }
    },
    pending: () => queue.length(),
  };
}

interface EventQueue {
  /** Serialises and queues an event; returns its number (counted since the queue was made). */
  add(event: AuditEventInput): number;
  /** Removes up to `count` events from the front, as prepared events over a buffer of their own. */
  take(count: number): PreparedEvent[];
  length(): number;
  /** How many events were ever taken. */
  taken(): number;
}

/** Event heads back to back in one buffer, and where each ends. */
function createEventQueue(): EventQueue {
  let bytes = Buffer.allocUnsafe(64 * 1024);
  let used = 0;
  // Numbers only: small integers live in the array itself, not as objects.
  let ends: number[] = [];
  let kinds: string[] = [];
  let taken = 0;
  return {
    add(event) {
      const head = serializeEventHead(event);
      const length = Buffer.byteLength(head);
      if (used + length > bytes.length) {
        const grown = Buffer.allocUnsafe(Math.max(bytes.length * 2, used + length));
        bytes.copy(grown, 0, 0, used);
        bytes = grown;
      }
      bytes.write(head, used, 'utf8');
      used += length;
      ends.push(used);
      kinds.push(event.kind);
      return taken + ends.length - 1;
    },
    take(count) {
      const n = Math.min(count, ends.length);
      if (n === 0) return [];
      const end = ends[n - 1]!;
      // The batch gets a copy: events queued while it is being written reuse the space.
      const batch = Buffer.from(bytes.subarray(0, end));
      const events: PreparedEvent[] = [];
      let start = 0;
      for (let i = 0; i < n; i += 1) {
        events.push({ kind: kinds[i]!, head: batch.subarray(start, ends[i]) });
        start = ends[i]!;
      }
      bytes.copy(bytes, 0, end, used);
      used -= end;
      ends = ends.slice(n).map((offset) => offset - end);
      kinds = kinds.slice(n);
      taken += n;
      return events;
    },
    length: () => ends.length,
    taken: () => taken,
  };
}
