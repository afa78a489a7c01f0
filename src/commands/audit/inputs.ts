// What the audit commands read: the log files named (or this install's log and
// the segments sealed beside it), and the numbers their flags carry.
import { existsSync, statSync } from 'node:fs';
import { notFoundError, usageError } from '../../core/errors.js';
import { isSealedSegmentName, listLogsIn, listSealedSegments } from '../../core/audit/segments.js';
import type { Context } from '../context.js';

export interface LogFlag {
  log?: string;
}

/** The files a command reads, oldest segment first, and whether they are the segments of one rotated log. */
export interface LogInputs {
  files: string[];
  /** Several segments: reported one line each. */
  chain: boolean;
  /** Named by the user (not this install's own log). */
  explicit: boolean;
}

/**
 * What to read: the files and folders named (a folder holds `*.jsonl` and
 * `*.jsonl.gz` segments), else the log (--log, or this install's) with the
 * segments sealed beside it. One file named alone is read alone.
 */
export function resolveInputs(ctx: Context, args: readonly string[], flags: LogFlag): LogInputs {
  if (args.length === 0) {
    const live = flags.log ?? ctx.paths.auditLog;
    const sealed = isSealedSegmentName(live) ? [] : listSealedSegments(live);
    if (sealed.length === 0) requireLogFile(live);
    const files = existsSync(live) ? [...sealed, live] : sealed;
    return { files, chain: files.length > 1, explicit: flags.log !== undefined };
  }
  const files: string[] = [];
  let folder = false;
  for (const arg of args) {
    requireLogFile(arg);
    if (statSync(arg).isDirectory()) {
      const found = listLogsIn(arg);
      if (found.length === 0) throw notFoundError('NO_AUDIT_LOG', `there is no audit log (*.jsonl, *.jsonl.gz) in ${arg}`);
      files.push(...found);
      folder = true;
    } else {
      files.push(arg);
    }
  }
  return { files, chain: folder || files.length > 1, explicit: true };
}

export function requireLogFile(file: string): void {
  if (!existsSync(file)) {
    throw notFoundError('NO_AUDIT_LOG', `there is no audit log at ${file}`, { hint: 'run agentauth init, or name the log: agentauth audit verify FILE|DIR (or --log FILE, AGENTAUTH_AUDIT_LOG)' });
  }
}

export function integerFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw usageError('BAD_NUMBER', `${flag} must be a non-negative integer: ${value}`);
  return Number(value);
}
