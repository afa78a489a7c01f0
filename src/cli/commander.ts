// commander's own classes, typed by @commander-js/extra-typings: each
// command's arguments and options are inferred from its declaration, so an
// action hands its command exactly the flags declared, and tsc checks them
// against the flags type the command reads. extra-typings re-exports these
// very classes at run time; importing them from commander keeps the bundle and
// start-up as they were (extra-typings would also build a spare program).
import { Command as PlainCommand, Option as PlainOption } from 'commander';
import type * as Typed from '@commander-js/extra-typings';

export const Command = PlainCommand as unknown as typeof Typed.Command;
export const Option = PlainOption as unknown as typeof Typed.Option;
export type Command<Args extends unknown[] = [], Opts extends Typed.OptionValues = {}, GlobalOpts extends Typed.OptionValues = {}> = Typed.Command<Args, Opts, GlobalOpts>;
/** Any command, whatever it declares. */
export type AnyCommand = Typed.CommandUnknownOpts;
export type { OptionValues } from '@commander-js/extra-typings';
