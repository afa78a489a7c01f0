// Group commit for long-running writers (the `run` gateway appends one event
// per proxied request). Concurrent appends are batched into one
// lock → write → fsync; each promise resolves only once its event is durable.
// Other processes still append in between: every batch takes the log lock and
// revalidates the cached tail (see writer.ts), so nothing forks.
import { withFileLock } from '../lock.js';
import type { AuditEventInput } from './event.js';
import type { LogSigner } from './log-key.js';
import { appendLocked, type AppendOptions, type TailState } from './writer.js';

export interface AuditAppenderOptions {
  file: string;
  origin: string;
  vkey?: string;
  /** Signs the automatic checkpoints (1000 events / 1 hour); without it they wait for a writer that can. */
  signer?: LogSigner;
  recoverActor?: Record<string, unknown>;
  /** Most events per write (default 512). */
  maxBatch?: number;
  /** How long the first event of a batch may wait for company, in ms (default 2). */
  maxDelayMs?: number;
  now?: () => Date;
}

export interface AuditAppender {
  /** Resolves with the event's seq once it is fsynced. */
  append(event: AuditEventInput): Promise<number>;
  /** Appends a checkpoint now (end of a run). Resolves once durable. */
  checkpoint(): Promise<void>;
  /** Flushes what is queued; later appends are refused. */
  close(): Promise<void>;
}

interface Pending {
  event: AuditEventInput | null;
  resolve: (seq: number) => void;
  reject: (error: unknown) => void;
}

export function createAuditAppender(options: AuditAppenderOptions): AuditAppender {
  const maxBatch = options.maxBatch ?? 512;
  const maxDelayMs = options.maxDelayMs ?? 2;
  const queue: Pending[] = [];
  let state: TailState | null = null;
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
    try {
      const outcome = await withFileLock(options.file, () => appendLocked(options.file, events, { ...base, forceCheckpoint: force }, state));
      state = outcome.state;
      let i = 0;
      for (const pending of batch) pending.resolve(pending.event === null ? outcome.result.size : (outcome.result.seqs[i++] as number));
    } catch (error) {
      // The cache may be out of date after a failure: rebuild it next time.
      state = null;
      for (const pending of batch) pending.reject(error);
    }
  };

  const drain = (): void => {
    if (running || queue.length === 0) return;
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    running = (async () => {
      while (queue.length > 0) await writeBatch(queue.splice(0, maxBatch));
    })().finally(() => {
      running = null;
      // Appends that arrived while the loop was ending would otherwise wait forever.
      if (queue.length > 0) schedule();
    });
  };

  const schedule = (): void => {
    if (running) return; // the running loop picks the new entries up
    if (queue.length >= maxBatch) drain();
    else timer ??= setTimeout(() => {
      timer = null;
      drain();
    }, maxDelayMs);
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
    checkpoint: async () => {
      await enqueue(null);
    },
    close: async () => {
      closed = true;
      drain();
      while (running) await running;
    },
  };
}
