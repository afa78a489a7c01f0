// Where the gateway's audit events go. A request only queues its event and
// moves on; the appender writes everything queued within one group-commit
// window as a single lock → write → fsync, with the fsync off this thread's
// critical path. One append per request would cap throughput at the disk's
// fsync rate.
import type { AuditAppender } from '../audit/appender.js';
import type { AuditEventInput } from '../audit/event.js';

/**
 * How long events wait to share an append: it bounds fsyncs to ~40 per second
 * under load, and is also about the most a crash of `run` can lose.
 */
export const GROUP_COMMIT_WINDOW_MS = 25;

export interface AuditSink {
  push(event: AuditEventInput): void;
  /** Writes what is queued plus `last`, then a checkpoint, then refuses new events. Rejects if `last` could not be written. */
  close(last: AuditEventInput[]): Promise<void>;
  /** Events accepted but not yet handed to a write. */
  pending(): number;
}

/** `appender` reports failed pushes to its own `onError`. */
export function createAuditSink(appender: AuditAppender): AuditSink {
  return {
    push: (event) => appender.push(event),
    async close(last) {
      const written = Promise.all([...last.map((event) => appender.append(event)), appender.checkpoint()]);
      await appender.close();
      await written;
    },
    pending: () => appender.pending(),
  };
}
