// The trust score of a log's agents at one signed checkpoint (docs/trust.md):
// the segments are verified, and only the events that checkpoint covers are
// counted — every event of the segments before it, and its own segment's up
// to its size. Events after it (not signed yet, or later) are not.
import { checkFailedError, notFoundError } from '../errors.js';
import type { VerifyOptions } from './checker.js';
import { readReplayEvent, type ReplayEvent } from './replay.js';
import { createTrustTally, type TrustTally } from './trust.js';
import { verifySegments, type ChainReport } from './verify-chain.js';

export interface TrustAtCheckpoint {
  chain: ChainReport;
  tally: TrustTally;
  /** The checkpoint counted up to. */
  log: { origin: string; segment: number; size: number; root: string };
  /** Events in the files after that checkpoint, not counted. */
  uncounted: number;
}

/**
 * Counts the verified log up to the checkpoint whose root is `root`, or up
 * to the last checkpoint of the last segment when `root` is undefined.
 * Throws when the log does not verify or holds no such checkpoint.
 */
export async function tallyTrustAt(files: readonly string[], verify: VerifyOptions, root?: string): Promise<TrustAtCheckpoint> {
  const tally = createTrustTally();
  // Events wait here until a checkpoint covers them; the last wait is what no checkpoint covers.
  let pending: ReplayEvent[] = [];
  let segment = 0;
  let reached: TrustAtCheckpoint['log'] | null = null;
  let after = 0;
  const chain = await verifySegments(files, {
    ...verify,
    onSegment: (entry) => {
      segment = entry.segment;
    },
    onEvent: (line) => {
      if (reached && root !== undefined) after += 1;
      else pending.push(readReplayEvent(line));
    },
    onCheckpoint: (size, checkpointRoot) => {
      if (reached && root !== undefined) return;
      for (const event of pending) tally.add(event);
      pending = [];
      if (root === undefined || checkpointRoot === root) reached = { origin: '', segment, size, root: checkpointRoot };
    },
  });
  if (!chain.ok) {
    const e = chain.error;
    throw checkFailedError('AUDIT_NOT_VERIFIED', `the audit log did not verify (${e?.code ?? '?'} in ${e?.file ?? '?'}: ${e?.message ?? ''}): no trust score is computed from it`, {
      hint: 'agentauth audit verify shows where',
    });
  }
  const found = reached as TrustAtCheckpoint['log'] | null;
  if (!found) {
    throw notFoundError('AUDIT_NO_CHECKPOINT', root === undefined ? 'the audit log has no checkpoint yet: a trust score counts only signed events' : `the audit log has no checkpoint with root ${root}`, {
      hint: root === undefined ? 'run agentauth audit checkpoint' : 'pass the segments that hold it (agentauth audit trust AGENT DIR --at ROOT)',
    });
  }
  found.origin = chain.segments.find((s) => s.report.origin)?.report.origin ?? '';
  return { chain, tally, log: found, uncounted: pending.length + after };
}
