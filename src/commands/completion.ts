// `completion bash|zsh|fish`: the same text as completions/, generated from the command tree.
import { usageError } from '../core/errors.js';
import type { Context } from './context.js';
import type { CommandResult } from './result.js';

export async function completionCommand(_ctx: Context, shell: string): Promise<CommandResult> {
  const { generateCompletion, SHELLS } = await import('../ui/completions.js');
  if (!(SHELLS as readonly string[]).includes(shell)) throw usageError('BAD_SHELL', `unknown shell "${shell}": use bash, zsh or fish`);
  const { createProgram } = await import('../cli.js');
  const text = generateCompletion(createProgram(), shell as (typeof SHELLS)[number]);
  return { data: { shell, script: text }, render: () => text };
}
