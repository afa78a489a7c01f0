// `agentauth audit verify [FILE|DIR…]`: every line, the hash chain, every signed
// checkpoint and the links between segments (audit-log.md, "Verification").
import { usageError } from '../../core/errors.js';
import type { VerifyReport } from '../../core/audit/verify.js';
import type { ChainReport } from '../../core/audit/verify-chain.js';
import type { Context } from '../context.js';
import type { CommandResult } from '../result.js';
import { renderChain, renderVerify } from '../../ui/render-audit.js';
import { resolveInputs } from './inputs.js';
import { readOptions, verifyOutcome, warnOnStderr, type VerifyFlags } from './check-options.js';

export async function verifyCommand(ctx: Context, args: readonly string[], flags: VerifyFlags): Promise<CommandResult> {
  const inputs = resolveInputs(ctx, args, flags);
  const threads = flags.threads === undefined ? undefined : Number(flags.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0 && threads <= 16)) throw usageError('BAD_THREADS', '--threads must be an integer from 0 to 16');
  const { options, done } = await readOptions(ctx, inputs, flags);
  if (threads !== undefined) options.threads = threads;
  const { verifySegments } = await import('../../core/audit/verify-chain.js');
  let chain: ChainReport;
  try {
    chain = await verifySegments(inputs.files, options);
  } finally {
    done();
  }
  const strict = flags.strict === true;
  warnOnStderr(ctx, chain);
  const outcome = verifyOutcome(chain, strict);
  const ok = outcome === 'ok';
  if (!inputs.chain) {
    // One file: the report as audit-log.md describes it.
    const report = chain.segments[0]!.report;
    const error = report.error ?? (chain.error ? { ...chain.error, file: undefined } : null);
    const segment = chain.segments[0]!;
    const continues = segment.previous ? { segment: segment.segment, previous: segment.previous } : null;
    return {
      data: { ...report, error, verified: chain.ok, ok, strict, ...(continues ? { segment: continues.segment, previous: continues.previous } : {}) },
      render: (style) => renderVerify({ ...report, error: error as VerifyReport['error'] }, strict, ok, style, continues),
      outcome,
    };
  }
  return {
    data: {
      ok,
      verified: chain.ok,
      strict,
      events: chain.events,
      startsAfter: chain.startsAfter,
      error: chain.error,
      trusted: chain.trusted,
      segments: chain.segments.map((s) => ({ ...s.report, segment: s.segment, previous: s.previous })),
    },
    render: (style) => renderChain(chain, strict, ok, style),
    outcome,
  };
}
