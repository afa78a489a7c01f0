// `agentauth audit vkey`: the log's verifier key (C2SP vkey).
import type { Context } from '../context.js';
import { loadConfig } from '../state.js';
import type { CommandResult } from '../result.js';

export async function vkeyCommand(ctx: Context): Promise<CommandResult> {
  const config = loadConfig(ctx);
  return { data: { origin: config.log.origin, vkey: config.log.vkey }, render: () => config.log.vkey };
}
