// How other commands write to the audit log. Kept small and free of heavy
// imports: `agentauth token mint` in a shell loop pays for this on every call.
import type { Config } from '../core/config.js';
import { entryName, requireEntry, type Keystore } from '../core/keystore/index.js';
import { loadLogSigner } from '../core/audit/log-key.js';
import { appendEvents, type AppendOptions, type AppendResult } from '../core/audit/writer.js';
import { readRotateBytes } from '../core/settings.js';
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
  return appendEvents(ctx.paths.auditLog, events, auditWriteOptions(ctx, config, keystore));
}

/**
 * How this install writes to its log: origin, vkey, who the writer's own
 * events are attributed to, the log key (read only when a checkpoint or a
 * rotation needs it), and when the log rotates on its own (audit.rotate-bytes).
 */
export function auditWriteOptions(ctx: Context, config: Config, keystore?: Keystore): AppendOptions {
  const origin = config.log.origin;
  const options: AppendOptions = {
    origin,
    vkey: config.log.vkey,
    recoverActor: ctx.actor,
    signer: keystore ? async () => loadLogSigner(await requireEntry(keystore, entryName.logKey), origin) : undefined,
  };
  const rotateBytes = readRotateBytes(config);
  if (rotateBytes !== undefined) options.rotateBytes = rotateBytes;
  const now = readTestClock(ctx);
  if (now) options.now = now;
  return options;
}

/**
 * FOR TESTS ONLY: with NODE_ENV=test, AGENTAUTH_TEST_NOW (an RFC 3339 time)
 * is the time the audit writer stamps on events and checks the hourly
 * checkpoint against, so an end-to-end test can play an hourly cron job in
 * seconds. Without NODE_ENV=test it is ignored. (A process that can set our
 * environment can write events with any time anyway: it can append to the
 * log file directly.)
 */
function readTestClock(ctx: Context): (() => Date) | undefined {
  const text = ctx.env['AGENTAUTH_TEST_NOW'];
  if (ctx.env['NODE_ENV'] !== 'test' || !text || Number.isNaN(Date.parse(text))) return undefined;
  const at = new Date(text);
  return () => at;
}
