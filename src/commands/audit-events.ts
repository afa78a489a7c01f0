// How other commands write to the audit log. Kept small and free of heavy
// imports: `agentauth token mint` in a shell loop pays for this on every call.
import type { Config } from '../core/config.js';
import { entryName, requireEntry, type Keystore } from '../core/keystore/index.js';
import { loadLogSigner } from '../core/audit/log-key.js';
import { appendEvents, type AppendResult } from '../core/audit/writer.js';
import type { Context } from './context.js';

export interface EventInput {
  kind: string;
  actor: Record<string, unknown>;
  data: Record<string, unknown>;
}

/**
 * Appends `events` (in order, under the log lock, fsynced before returning).
 *
 * Checkpoints: when one is due (1000 uncovered events or an hour since the
 * last) it is signed with the keystore's `log-key` entry, but only if a
 * keystore is passed. Without one (commands that never unlock the keystore)
 * the checkpoint is deferred: the due condition stays true and the next append
 * that has a keystore, `audit checkpoint`, or the end of a `run` signs it.
 * The log key is read only when a checkpoint is actually due, so passing a
 * keystore costs nothing otherwise.
 */
export async function recordEvents(ctx: Context, config: Config, events: EventInput[], keystore?: Keystore): Promise<AppendResult> {
  const origin = config.log.origin;
  return appendEvents(ctx.paths.auditLog, events, {
    origin,
    vkey: config.log.vkey,
    recoverActor: ctx.actor,
    signer: keystore ? async () => loadLogSigner(await requireEntry(keystore, entryName.logKey), origin) : undefined,
  });
}
