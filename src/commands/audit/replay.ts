// `agentauth audit replay [FILE|DIR…]`: the events of a log that verified,
// filtered, with the invariants it breaks; nothing from a tampered log.
import { usageError } from '../../core/errors.js';
import type { ReplayEvent, ReplayFilters } from '../../core/audit/replay.js';
import type { Context } from '../context.js';
import type { CommandResult } from '../result.js';
import { SCHEMA_VERSION } from '../result.js';
import { renderChain, renderReplay, renderReplayEvent, renderVerify, type TimeFormat } from '../../ui/render-audit.js';
import { resolveInputs } from './inputs.js';
import { readOptions, verifyOutcome, warnOnStderr, type VerifyFlags } from './check-options.js';

export interface ReplayFlags extends VerifyFlags {
  agent?: string;
  kind?: string;
  since?: string;
  until?: string;
  host?: string;
  jti?: string;
  json?: boolean;
  localTime?: boolean;
}

function parseTime(value: string, flag: string): number {
  const relative = /^(\d+)(s|m|h|d)$/.exec(value);
  if (relative) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return Date.now() - Number(relative[1]) * unit;
  }
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw usageError('BAD_TIME', `${flag} must be an RFC 3339 time (2026-11-22T14:00:00Z) or a duration ago (90s, 15m, 1h, 7d): ${value}`);
  return at;
}

export async function replayCommand(ctx: Context, args: readonly string[], flags: ReplayFlags): Promise<CommandResult> {
  const filters: ReplayFilters = {};
  if (flags.agent !== undefined) filters.agent = flags.agent;
  if (flags.kind !== undefined) filters.kind = flags.kind;
  if (flags.since !== undefined) filters.since = parseTime(flags.since, '--since');
  if (flags.until !== undefined) filters.until = parseTime(flags.until, '--until');
  if (flags.host !== undefined) filters.host = flags.host;
  if (flags.jti !== undefined) filters.jti = flags.jti;
  const inputs = resolveInputs(ctx, args, flags);
  const time: TimeFormat = { local: flags.localTime === true };
  const json = flags.json === true;
  const { options, done } = await readOptions(ctx, inputs, flags);
  // Events are held until the whole log has verified: nothing from a tampered log is printed as fact.
  const events: ReplayEvent[] = [];
  if (json) ctx.stdout.write(`${JSON.stringify({ schemaVersion: SCHEMA_VERSION, type: 'header', files: inputs.files, file: inputs.files.at(-1), filters })}\n`);
  const { replayLog } = await import('../../core/audit/replay.js');
  let result;
  try {
    result = await replayLog(inputs.files, options, filters, (event) => events.push(event));
  } finally {
    done();
  }
  const { chain } = result;
  warnOnStderr(ctx, chain);
  const outcome = verifyOutcome(chain, flags.strict === true);
  if (chain.ok) {
    if (json) {
      for (const event of events) ctx.stdout.write(`${JSON.stringify({ type: 'event', ...event })}\n`);
      for (const violation of result.violations) ctx.stdout.write(`${JSON.stringify({ type: 'violation', ...violation })}\n`);
    }
  } else {
    ctx.warn(`the log did not verify (${chain.error?.code ?? '?'}): nothing is replayed`);
  }
  if (chain.ok && result.violations.length > 0) ctx.warn(`${result.violations.length} invariant violation(s) found`);
  return {
    data: {
      type: 'summary',
      ok: outcome === 'ok',
      verified: chain.ok,
      error: chain.error,
      warnings: chain.segments.flatMap((s) => s.report.warnings),
      events: chain.events,
      segments: chain.segments.length,
      matched: result.matched,
      agents: chain.ok ? result.agents : [],
      violations: chain.ok ? result.violations : [],
    },
    render: (style) => {
      if (!chain.ok) return inputs.chain ? renderChain(chain, false, false, style) : renderVerify(chain.segments[0]!.report, false, false, style);
      return [...events.map((e) => renderReplayEvent(e, style, time)), renderReplay(result, style)].join('\n');
    },
    outcome,
  };
}
