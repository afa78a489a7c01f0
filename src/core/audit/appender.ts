// Group commit for long-running writers (the `run` gateway appends one event
// per proxied request). Appends queue up for a short window and are then
// written as one lock → write → fsync; each promise resolves only once its
// event is durable. Other processes still append in between: every batch
// takes the log lock and revalidates the cached tail (see writer.ts), so
// nothing forks.
import { withFileLock } from '../lock.js';
import type { AuditEventInput } from './event.js';
import type { LogSigner } from './log-key.js';
import { appendLocked, saveStateFile, type AppendOptions, type TailState } from './writer.js';

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
  /** Where a failed write of events given to `push` is reported (once per failed batch). */
  onError?: (error: unknown) => void;
  now?: () => Date;
}

export interface AuditAppender {
  /** Resolves with the event's seq once it is fsynced. */
  append(event: AuditEventInput): Promise<number>;
  /** Queues an event without a promise to wait on (a gateway's per-request events); failures go to `onError`. */
  push(event: AuditEventInput): void;
  /** Appends a checkpoint now (end of a run). Resolves once durable. */
  checkpoint(): Promise<void>;
  /** Flushes what is queued and saves the state cache; later appends are refused. */
  close(): Promise<void>;
  /** Events accepted but not yet handed to a write. */
  pending(): number;
}

interface Pending {
  event: AuditEventInput | null;
  /** Absent for pushed events: nobody waits on them. */
  resolve?: (seq: number) => void;
  reject?: (error: unknown) => void;
}

export function createAuditAppender(options: AuditAppenderOptions): AuditAppender {
  const maxBatch = options.maxBatch ?? 512;
  const windowMs = options.maxDelayMs ?? 2;
  const saveEveryMs = options.saveStateEveryMs ?? 1000;
  const queue: Pending[] = [];
  let state: TailState | null = null;
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

  const writeBatch = async (batch: Pending[]): Promise<void> => {
    const events = batch.filter((p) => p.event !== null).map((p) => p.event as AuditEventInput);
    const force = batch.some((p) => p.event === null);
    const saveState = force || performance.now() - stateSavedAt >= saveEveryMs;
    try {
      const outcome = await withFileLock(options.file, () => appendLocked(options.file, events, { ...base, forceCheckpoint: force, saveState }, state));
      state = outcome.state;
      stateDirty = !saveState;
      if (saveState) stateSavedAt = performance.now();
      let i = 0;
      for (const pending of batch) {
        const seq = pending.event === null ? outcome.result.size : (outcome.result.seqs[i++] as number);
        pending.resolve?.(seq);
      }
    } catch (error) {
      // The cache may be out of date after a failure: rebuild it next time.
      state = null;
      let pushed = false;
      for (const pending of batch) {
        if (pending.reject) pending.reject(error);
        else pushed = true;
      }
      if (pushed) options.onError?.(error);
    }
  };

  const drain = (): void => {
    if (running || queue.length === 0) return;
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    running = (async () => {
      while (queue.length > 0) {
        const started = performance.now();
        await writeBatch(queue.splice(0, maxBatch));
        // Under steady load, let the next batch gather for the rest of the window
        // instead of writing (and fsyncing) whatever trickled in meanwhile.
        const rest = windowMs - (performance.now() - started);
        if (!closed && rest > 0 && queue.length > 0 && queue.length < maxBatch) await new Promise((resolve) => setTimeout(resolve, rest));
      }
    })().finally(() => {
      running = null;
      // Appends that arrived while the loop was ending would otherwise wait forever.
      if (queue.length > 0) schedule();
    });
  };

  const schedule = (): void => {
    if (running) return; // the running loop picks the new entries up
    if (queue.length >= maxBatch || closed) drain();
    else timer ??= setTimeout(() => {
      timer = null;
      drain();
    }, windowMs);
  };

  const enqueue = (event: AuditEventInput | null): Promise<number> => {
    if (closed) return Promise.reject(new Error('the audit appender is closed'));
    return new Promise<number>((resolve, reject) => {
      queue.push({ event, resolve, reject });
      schedule();
    });
  };

  return {
    append: (event) => enqueue(event),
    push: (event) => {
      if (closed) return;
      queue.push({ event });
      schedule();
    },
    checkpoint: async () => {
      await enqueue(null);
    },
    close: async () => {
      closed = true;
      drain();
      while (running) await running;
      if (stateDirty && state) {
        const last = state;
        await withFileLock(options.file, () => saveStateFile(options.file, last)).catch(() => {
          // Only a cache: the next writer rebuilds it from the log.
        });
        stateDirty = false;
      }
    },
    pending: () => queue.length,
  };
}
