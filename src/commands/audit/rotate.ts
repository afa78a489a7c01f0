// `agentauth audit rotate`.
import { appendEvents } from '../../core/audit/writer.js';
import type { Context, KeystoreFlags } from '../context.js';
import { auditWriteOptions } from '../audit-events.js';
import { loadConfig, openKeystore } from '../state.js';
import type { CommandResult } from '../result.js';
import { renderRotation } from '../../ui/render-audit.js';
import { requireLogFile, type LogFlag } from './inputs.js';

export type RotateFlags = LogFlag & KeystoreFlags;

/** `audit rotate`: seal the live log with a checkpoint and start the next segment (audit-log.md, "Rotation and retention"). */
export async function rotateCommand(ctx: Context, flags: RotateFlags): Promise<CommandResult> {
  const config = loadConfig(ctx);
  const file = flags.log ?? ctx.paths.auditLog;
  requireLogFile(file);
  const keystore = await openKeystore(ctx, config, flags);
  const result = await appendEvents(file, [], { ...auditWriteOptions(ctx, config, keystore), rotate: true });
  const rotated = result.rotated!;
  const data = { live: file, sealed: rotated.sealed, segment: rotated.segment, size: rotated.size, root: rotated.root };
  return { data, render: (style) => renderRotation(data, style) };
}
