// When a writer signs a checkpoint on its own (audit-log.md, "When a
// checkpoint is signed"): once 1000 events, or an hour, have passed since the
// last one, checked on append.
//
// "An hour since the last one" alone fails the commonest home-lab writer: a
// cron job that mints once an hour. The last checkpoint is stamped with the
// time of the last event it covers; the next run comes an hour later give or
// take cron's and Node's start-up jitter, so half the runs find 59:59.8 on the
// clock and sign nothing, and the script gets a checkpoint every two hours.
// The rule is therefore "an hour has passed, OR a new clock hour (UTC) has
// begun since the last checkpoint": every append that lands in a later hour
// signs, whatever the jitter, and a busy log still gets at most one
// time-based checkpoint per clock hour. It checkpoints whenever the plain
// rule would, and sometimes earlier; never later. (A clock that went back
// does not count as a new hour, as the plain rule does not count it either.)

export interface CheckpointCadence {
  /** Uncovered events that make a checkpoint due. */
  events: number;
  /** The period, in ms (an hour). */
  ms: number;
}

export const DEFAULT_CADENCE: CheckpointCadence = { events: 1000, ms: 60 * 60 * 1000 };

/**
 * Whether an append must sign a checkpoint. `uncovered` counts the events no
 * checkpoint covers, including those being appended; `nowMs` is the append's
 * time and `lastMs` the `ts` of the last event the last checkpoint covers (of
 * event 0 when there is none), or null when unknown.
 */
export function isCheckpointDue(uncovered: number, nowMs: number, lastMs: number | null, every: CheckpointCadence = DEFAULT_CADENCE): boolean {
  if (uncovered <= 0) return false;
  if (uncovered >= every.events) return true;
  if (lastMs === null || Number.isNaN(lastMs)) return false;
  return nowMs - lastMs >= every.ms || Math.floor(nowMs / every.ms) > Math.floor(lastMs / every.ms);
}
