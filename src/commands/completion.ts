// `completion bash|zsh|fish`: the same text as completions/, generated from the command tree.
import { usageError } from '../core/errors.js';
import type { Command } from 'commander';
import type { Context } from './context.js';
import type { CommandResult } from './result.js';

/** `program` is the command tree, handed in by src/cli.ts (this layer never imports it). */
export async function completionCommand(_ctx: Context, shell: string, program: Command): Promise<CommandResult> {
  const { generateCompletion, SHELLS } = await import('../ui/completions.js');
  if (!(SHELLS as readonly string[]).includes(shell)) throw usageError('BAD_SHELL', `unknown shell "${shell}": use bash, zsh or fish`);
  const text = generateCompletion(program, shell as (typeof SHELLS)[number]);
  return { data: { shell, script: text }, render: () => text };
}
