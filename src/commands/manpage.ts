// `manpage` (hidden): the roff text of man/agentauth.1, generated from the command tree.
import { VERSION } from '../version.js';
import type { Context } from './context.js';
import type { CommandResult } from './result.js';

export async function manpageCommand(_ctx: Context): Promise<CommandResult> {
  const [{ generateManPage }, { createProgram }] = await Promise.all([import('../ui/man-page.js'), import('../cli.js')]);
  const text = generateManPage(createProgram(), VERSION);
  return { data: { manpage: text }, render: () => text };
}
