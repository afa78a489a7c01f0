// `token mint --with-trust`: the agentauth_trust claim (docs/tokens.md). The
// log is checkpointed first, so that the score covers every event up to this
// mint and names a checkpoint a verifier holding the log can find: the score
// is computed over exactly the events that checkpoint covers.
import type { Config } from '../core/config.js';
import { isAgentAuthError } from '../core/errors.js';
import type { Keystore } from '../core/keystore/index.js';
import { listSealedSegments } from '../core/audit/segments.js';
import { toTrustClaim, type TrustClaim } from '../core/audit/trust.js';
import { tallyTrustAt } from '../core/audit/trust-log.js';
import { appendEvents } from '../core/audit/writer.js';
import { auditWriteOptions } from './audit-events.js';
import type { Context } from './context.js';

export async function computeTrustClaim(ctx: Context, config: Config, keystore: Keystore, agent: string): Promise<TrustClaim> {
  const file = ctx.paths.auditLog;
  const { head } = await appendEvents(file, [], { ...auditWriteOptions(ctx, config, keystore), forceCheckpoint: true });
  if (!head) throw new Error('the audit log has no checkpoint after a forced one');
  for (let attempt = 0; ; attempt += 1) {
    try {
      // Listed after the checkpoint: a rotation it triggered has sealed the segment that holds it.
      const counted = await tallyTrustAt([...listSealedSegments(file), file], { vkey: config.log.vkey }, head.root);
      return toTrustClaim(counted.tally.score(agent), counted.log);
    } catch (error) {
      // Another writer rotated the log between the checkpoint and the listing: list again, once.
      if (attempt > 0 || !isAgentAuthError(error) || error.code !== 'AUDIT_NO_CHECKPOINT') throw error;
    }
  }
}
