// Audit appends for the gateway, on a worker thread. An append takes the log
// lock and fsyncs the log and its state file with synchronous calls; on the
// gateway's own thread that would stall every request in flight for the
// length of the fsync. The worker runs this same module (the bundle chunk it
// lives in), so it needs no separate entry point.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { loadLogSigner } from '../audit/log-key.js';
import { appendEvents } from '../audit/writer.js';
import type { AppendBatch, AuditEventDraft } from './audit-batch.js';

const ROLE = 'agentauth-audit-writer';

export interface AuditThreadOptions {
  file: string;
  origin: string;
  vkey: string;
  recoverActor: Record<string, unknown>;
  /** The log key's private JWK, for checkpoints; kept in this process's memory only. */
  logKeyJwk: string;
}

interface Job {
  id: number;
  /**
   * The batch as one JSON string: audit events are plain JSON by definition,
   * and a string crosses threads as one flat copy, where structured-cloning
   * hundreds of small objects showed up in the gateway thread's profile.
   */
  events: string;
  final: boolean;
}

/**
 * The writer's young generation is capped: it only turns batches into lines,
 * and V8's default lets an isolate's new space grow to 32 MiB under a
 * steady allocation rate, which is RSS the gateway does not need.
 */
const YOUNG_GENERATION_MB = 8;

export interface AuditThread {
  append: AppendBatch;
  stop(): Promise<void>;
}

export function startAuditThread(options: AuditThreadOptions): AuditThread {
  const worker = new Worker(new URL(import.meta.url), { workerData: { role: ROLE, options }, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
  worker.unref();
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  let next = 0;
  worker.on('message', (reply: { id: number; error?: string }) => {
    const entry = pending.get(reply.id);
    if (!entry) return;
    pending.delete(reply.id);
    if (reply.error) entry.reject(new Error(reply.error));
    else entry.resolve();
  });
  const failAll = (error: Error) => {
    for (const entry of pending.values()) entry.reject(error);
    pending.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', () => failAll(new Error('the audit writer thread stopped')));
  return {
    append: (events, final) =>
      new Promise<void>((resolve, reject) => {
        const id = (next += 1);
        pending.set(id, { resolve, reject });
        worker.ref();
        worker.postMessage({ id, events: JSON.stringify(events), final } satisfies Job);
      }).finally(() => {
        if (pending.size === 0) worker.unref();
      }),
    stop: async () => {
      await worker.terminate();
    },
  };
}

function runWorker(options: AuditThreadOptions): void {
  let signer: ReturnType<typeof loadLogSigner> | null = null;
  const getSigner = () => (signer ??= loadLogSigner(options.logKeyJwk, options.origin));
  // Jobs arrive one at a time from the batcher; the chain keeps them in order regardless.
  let chain = Promise.resolve();
  parentPort!.on('message', (job: Job) => {
    chain = chain.then(async () => {
      try {
        await appendEvents(options.file, JSON.parse(job.events) as AuditEventDraft[], {
          origin: options.origin,
          vkey: options.vkey,
          recoverActor: options.recoverActor,
          signer: getSigner,
          ...(job.final ? { forceCheckpoint: true } : {}),
        });
        parentPort!.postMessage({ id: job.id });
      } catch (error) {
        parentPort!.postMessage({ id: job.id, error: (error as Error).message ?? String(error) });
      }
    });
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  runWorker((workerData as { options: AuditThreadOptions }).options);
}
