// `agentauth config list|get|set|unset` (settings.ts holds the keys).
import type { Command } from 'commander';
import type { CliKit } from './cli-kit.js';

export function declareConfigCommands(program: Command, kit: CliKit): void {
  const { act, withJson } = kit;
  const config = program
    .command('config')
    .description('settings kept in config.json (issuer, run.sandbox, run.sandbox-hide, run.sandbox-ro, audit.rotate-bytes)')
    .addHelpText(
      'after',
      `
Examples:
  agentauth config set issuer http://pi.lan:8765          # the iss of new tokens: serve's URL, where verifiers find the keys
  agentauth config set run.sandbox required               # run refuses to start a child without a sandbox
  agentauth config set run.sandbox-hide ~/.ssh ~/.aws ~/.config/gcloud ~/.kube
  agentauth config unset run.sandbox-hide
  agentauth config set audit.rotate-bytes 16M             # a new audit log segment past 16 MiB (off: never)`,
    );
  withJson(config.command('list').description('every setting, its value and what it does')).action(
    act(async (ctx) => (await import('./commands/config.js')).listConfigCommand(ctx)),
  );
  withJson(config.command('get').argument('<key>', 'a setting, e.g. issuer or run.sandbox').description("print a setting's value (lists: one a line)")).action(
    act(async (ctx, key) => (await import('./commands/config.js')).getConfigCommand(ctx, key as string)),
  );
  withJson(
    config
      .command('set')
      .argument('<key>', 'a setting, e.g. run.sandbox')
      .argument('<value...>', 'the value; for a list, every item (replaces the list)')
      .description('change a setting'),
  ).action(act(async (ctx, key, values) => (await import('./commands/config.js')).setConfigCommand(ctx, key as string, values as string[])));
  withJson(config.command('unset').argument('<key>', 'a setting').description('return a setting to its default')).action(
    act(async (ctx, key) => (await import('./commands/config.js')).unsetConfigCommand(ctx, key as string)),
  );
}
