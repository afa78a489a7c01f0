// `agentauth audit trust [AGENT] [FILE|DIR…]` (docs/trust.md).
import { notFoundError, usageError } from '../../core/errors.js';
import type { Context } from '../context.js';
import type { CommandResult } from '../result.js';
import { renderTrust, type TimeFormat } from '../../ui/render-audit.js';
import { resolveInputs } from './inputs.js';
import { readOptions, warnOnStderr, type VerifyFlags } from './check-options.js';

export interface TrustFlags extends VerifyFlags {
  at?: string;
  localTime?: boolean;
}

/** `audit trust [AGENT] [FILE|DIR…]`: the score of one agent, or of every agent the log names, at its last checkpoint (or --at ROOT). */
export async function trustCommand(ctx: Context, agent: string | undefined, args: readonly string[], flags: TrustFlags): Promise<CommandResult> {
  if (flags.at !== undefined && !/^[0-9a-f]{64}$/.test(flags.at)) throw usageError('BAD_ROOT', `--at takes a checkpoint's root: 64 lower-case hex digits (the "root" of an agentauth_trust claim): ${flags.at}`);
  // `audit trust DIR` names no agent: a path is never an agent name.
  if (agent !== undefined && (agent.includes('/') || /\.jsonl(\.gz)?$/.test(agent))) {
    args = [agent, ...args];
    agent = undefined;
  }
  const inputs = resolveInputs(ctx, args, flags);
  const { options, done } = await readOptions(ctx, inputs, flags);
  const { tallyTrustAt } = await import('../../core/audit/trust-log.js');
  let counted;
  try {
    counted = await tallyTrustAt(inputs.files, options, flags.at);
  } finally {
    done();
  }
  warnOnStderr(ctx, counted.chain);
  const names = agent !== undefined ? [agent] : counted.tally.agents();
  const scores = names.map((name) => counted.tally.score(name));
  if (agent !== undefined && scores[0]!.added === null && scores[0]!.components.successes === 0 && Object.keys(scores[0]!.components.denied).length === 0) {
    throw notFoundError('NO_SUCH_AGENT', `the audit log holds nothing about an agent named "${agent}" up to that checkpoint`, { hint: 'agentauth audit trust (no name) scores every agent the log names' });
  }
  const time: TimeFormat = { local: flags.localTime === true };
  return {
    data: { log: counted.log, uncounted: counted.uncounted, agents: scores },
    render: (style) => renderTrust(scores, counted.log, counted.uncounted, style, time),
  };
}
