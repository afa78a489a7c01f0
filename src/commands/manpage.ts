// `manpage` (hidden): the roff text of man/agentauth.1, generated from the command tree.
import { VERSION } from '../version.js';
import type { Command } from 'commander';
import type { Context } from './context.js';
import type { CommandResult } from './result.js';

/** `program` is the command tree, handed in by src/cli.ts (this layer never imports it). */
export async function manpageCommand(_ctx: Context, program: Command): Promise<CommandResult> {
  const { generateManPage } = await import('../ui/man-page.js');
  const text = generateManPage(program, VERSION);
  return { data: { manpage: text }, render: () => text };
}
