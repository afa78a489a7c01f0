// Group commit for serve's mints, without a waiting window: the first event
// is written at once; events that arrive while a write (and its fsync) is in
// progress go together in the next one. Each caller's promise settles only
// after the write that holds its event returned, so "acknowledged" still
// means "on disk".
import type { AuditEventInput } from '../audit/event.js';

export type EventWriter = (events: AuditEventInput[]) => Promise<void>;

export function createBatchedWriter(write: EventWriter): { record: EventWriter; drain(): Promise<void> } {
  let queue: { events: AuditEventInput[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  let running: Promise<void> | null = null;

  const run = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await write(batch.flatMap((entry) => entry.events));
        for (const entry of batch) entry.resolve();
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
  };

  const kick = (): void => {
    if (running) return;
    running = run().finally(() => {
      running = null;
      // Events queued between the loop's last check and here would otherwise wait forever.
      if (queue.length > 0) kick();
    });
  };

  return {
    record(events) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ events, resolve, reject });
        kick();
      });
    },
    async drain() {
      while (running) await running;
    },
  };
}
