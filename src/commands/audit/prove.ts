// `agentauth audit prove`: an inclusion or consistency proof that anyone can
// check with only the proof, its checkpoints and the vkey (audit verify-proof).
import { usageError } from '../../core/errors.js';
import { writePrivateFileAtomic } from '../../core/fs-safe.js';
import type { Context } from '../context.js';
import type { CommandResult } from '../result.js';
import { SCHEMA_VERSION } from '../result.js';
import { integerFlag, requireLogFile, type LogFlag } from './inputs.js';

export interface ProveFlags extends LogFlag {
  seq?: string;
  size?: string;
  from?: string;
  to?: string;
  out?: string;
}

export async function proveCommand(ctx: Context, flags: ProveFlags): Promise<CommandResult> {
  const log = { file: flags.log ?? ctx.paths.auditLog };
  requireLogFile(log.file);
  const seq = integerFlag(flags.seq, '--seq');
  const size = integerFlag(flags.size, '--size');
  const from = integerFlag(flags.from, '--from');
  const to = integerFlag(flags.to, '--to');
  const { proveInclusion, proveConsistency } = await import('../../core/audit/prove.js');
  let proof;
  if (seq !== undefined && from === undefined && to === undefined) proof = proveInclusion(log.file, seq, size);
  else if (seq === undefined && size === undefined && from !== undefined && to !== undefined) proof = proveConsistency(log.file, from, to);
  else throw usageError('BAD_PROVE_ARGS', 'use either --seq N [--size M] (inclusion) or --from A --to B (consistency)');
  const text = `${JSON.stringify({ schemaVersion: SCHEMA_VERSION, ...proof }, null, 2)}\n`;
  if (flags.out) writePrivateFileAtomic(flags.out, text);
  // The proof document is the output, in both modes: it is what verify-proof reads.
  return { data: { ...proof }, render: () => text };
}
