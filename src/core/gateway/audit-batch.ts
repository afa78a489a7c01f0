// Group commit for the gateway's audit events. Each append to the log takes
// the log lock and fsyncs; doing that per request would cap throughput at the
// disk's fsync rate and stall responses. Instead requests only queue their
// event; one append at a time writes everything queued since the last one.
export interface AuditEventDraft {
  kind: string;
  actor: Record<string, unknown>;
  data: Record<string, unknown>;
}

export interface AuditBatcher {
  push(event: AuditEventDraft): void;
  /** Writes what is queued plus `last` in one final append (with a checkpoint), then refuses new events. */
  close(last: AuditEventDraft[]): Promise<void>;
  /** Events accepted but not yet written. */
  pending(): number;
}

export type AppendBatch = (events: AuditEventDraft[], final: boolean) => Promise<void>;

/**
 * How long events wait to share an append. Appends fsync on the gateway's
 * thread, so this bounds fsyncs to ~1/window per second under load; it is
 * also the most a crash of `run` can lose of acknowledged-to-nobody events.
 */
export const GROUP_COMMIT_WINDOW_MS = 25;

export function createAuditBatcher(append: AppendBatch, onError: (error: unknown) => void, windowMs = GROUP_COMMIT_WINDOW_MS): AuditBatcher {
  let queue: AuditEventDraft[] = [];
  let running: Promise<void> | null = null;
  let closed = false;

  const drain = async () => {
    // Wait a little so that events from the same burst share the append.
    await new Promise<void>((resolve) => setTimeout(resolve, windowMs));
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await append(batch, false);
      } catch (error) {
        onError(error);
      }
    }
    running = null;
  };

  return {
    push(event) {
      if (closed) return;
      queue.push(event);
      running ??= drain();
    },
    async close(last) {
      closed = true;
      while (running) await running;
      const batch = [...queue, ...last];
      queue = [];
      await append(batch, true);
    },
    pending: () => queue.length,
  };
}
