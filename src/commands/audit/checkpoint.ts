// `agentauth audit checkpoint`: sign a checkpoint of the live log now.
import { notFoundError } from '../../core/errors.js';
import { writePrivateFileAtomic } from '../../core/fs-safe.js';
import { requireEntry, entryName } from '../../core/keystore/index.js';
import { loadLogSigner } from '../../core/audit/log-key.js';
import { appendEvents } from '../../core/audit/writer.js';
import { readTailLines } from '../../core/audit/tail.js';
import type { Context, KeystoreFlags } from '../context.js';
import { auditWriteOptions } from '../audit-events.js';
import { loadConfig, openKeystore } from '../state.js';
import type { CommandResult } from '../result.js';
import { renderCheckpoint } from '../../ui/render-audit.js';
import type { LogFlag } from './inputs.js';

export interface CheckpointFlags extends LogFlag, KeystoreFlags {
  out?: string;
}

export async function checkpointCommand(ctx: Context, flags: CheckpointFlags): Promise<CommandResult> {
  const config = loadConfig(ctx);
  const file = flags.log ?? ctx.paths.auditLog;
  const keystore = await openKeystore(ctx, config, flags);
  const origin = config.log.origin;
  const signer = await loadLogSigner(await requireEntry(keystore, entryName.logKey), origin);
  // No automatic rotation here: the checkpoint this prints is the live log's head.
  const { rotateBytes: _rotateBytes, ...options } = auditWriteOptions(ctx, config);
  const result = await appendEvents(file, [], { ...options, signer: () => signer, forceCheckpoint: true });
  let checkpoint = result.checkpoint;
  let fresh = true;
  if (!checkpoint) {
    // Nothing new since the last checkpoint: that one is the head.
    fresh = false;
    const last = readTailLines(file, 1)[0];
    const parsed = last ? (JSON.parse(last) as { kind?: string; size?: number; root?: string; note?: string }) : null;
    if (!parsed || parsed.kind !== 'checkpoint' || typeof parsed.note !== 'string') throw notFoundError('NO_CHECKPOINT', 'the log has no events to checkpoint');
    checkpoint = { size: parsed.size as number, root: parsed.root as string, note: parsed.note };
  }
  if (flags.out) writePrivateFileAtomic(flags.out, checkpoint.note);
  const data = { origin, size: checkpoint.size, root: checkpoint.root, note: checkpoint.note, created: fresh, ...(flags.out ? { out: flags.out } : {}) };
  return { data, render: (style) => renderCheckpoint(data, style) };
}
