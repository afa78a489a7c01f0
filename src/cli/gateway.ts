// `agentauth secret|grant|run` (gateway.md). Each action lazy-imports its
// module: the gateway's TLS and X.509 code loads only for `run`.
import { Option, type Command } from './commander.js';
import { collect, type CliKit } from './kit.js';
import { PRESETS } from '../core/presets.js';

function renderPresetHelp(): string {
  return PRESETS.map((preset) => {
    const places = preset.placements.map((placement) => ('header' in placement ? (placement.format ? `${placement.header}:${placement.format}` : placement.header) : `?${placement.query}=`)).join(', ');
    return `  ${preset.name.padEnd(12)}${preset.hosts.join(', ')}\n  ${''.padEnd(12)}${places}; ${preset.env.join(', ')}`;
  }).join('\n');
}

export function declareGatewayCommands(program: Command, kit: CliKit): void {
  const { act, withJson, withKeystoreOptions } = kit;
  const secret = program.command('secret').description('credentials the gateway swaps in; values never leave it');

  withJson(
    withKeystoreOptions(
      secret
        .command('add')
        .argument('<name>', 'secret name ([a-z0-9][a-z0-9._-]{0,62})')
        .description('store a secret; the value comes from stdin, a hidden prompt or --from-file, never argv')
        .addOption(new Option('--preset <provider>', 'fill hosts, headers and variables from a provider preset (see below)').choices(PRESETS.map((preset) => preset.name)))
        .option('--host <host>', 'where it may be sent: api.example.com, *.example.com, host:port (all https), or http://host[:port] for a service without TLS (repeatable)', collect)
        .option('--path <prefix>', 'only under this path prefix')
        .option('--method <method>', 'only with this HTTP method (repeatable)', collect)
        .option('--header <name[:format]>', "a request header the value travels in; FORMAT is a template with {} ('authorization:Bearer {}') or basic:USER for HTTP Basic (repeatable)", collect)
        .option('--format <template>', "the format of each --header given without one, {} = the value (e.g. 'Bearer {}')")
        .option('--query <param>', 'a query parameter the value travels in (repeatable)', collect)
        .option('--env <var>', 'a variable that holds the placeholder in the child (repeatable)', collect)
        .option('--base-url-env <var>', 'a variable set to the gateway base URL for this secret (clients that ignore proxies)')
        .option('--from-file <file>', 'read the value from FILE')
        .addHelpText('after', () => `
The value is only ever sent over TLS, verified, to the hosts given, unless a host is
written with http:// — then it travels in clear, readable by anyone on that network path.
Use http:// only for services on this machine or a LAN you trust.

The swap happens in whichever declared place holds the placeholder. With basic:USER the
placeholder is the password inside the Basic credentials (git: https://USER:$TOKEN@host/…),
and only for that USER.

Presets (flags beside --preset replace that part: --host the hosts, --header/--query the places, --env the variables):
${renderPresetHelp()}

Examples:
  agentauth secret add anthropic --preset anthropic                 # the value at a hidden prompt
  printf %s "$GITHUB_TOKEN" | agentauth secret add github --preset github
  printf %s "$KEY" | agentauth secret add ollama --host http://localhost:11434 --header 'authorization:Bearer {}' --env OLLAMA_API_KEY
  agentauth secret add maps --host '*.maps.example.com' --query key --path /v1 --method GET --from-file key.txt`),
    ),
  ).action(act(async (ctx, name, opts) => (await import('../commands/secret.js')).addSecretCommand(ctx, name, opts)));

  withJson(secret.command('list').description('names, bindings and grants (never values)').option('--names', 'print only the names, one a line')).action(
    act(async (ctx, opts) => (await import('../commands/secret.js')).listSecretsCommand(ctx, opts)),
  );

  withJson(secret.command('rm').argument('<name>').description('delete a secret, its value and every grant of it')).action(
    act(async (ctx, name) => (await import('../commands/secret.js')).removeSecretCommand(ctx, name)),
  );

  withJson(
    withKeystoreOptions(
      secret
        .command('rotate')
        .argument('<name>')
        .description('replace the value (stdin, a hidden prompt or --from-file)')
        .option('--from-file <file>', 'read the new value from FILE'),
    ),
  ).action(act(async (ctx, name, opts) => (await import('../commands/secret.js')).rotateSecretCommand(ctx, name, opts)));

  withJson(
    program
      .command('grant')
      .argument('<agent>', 'the agent')
      .argument('<secret>', 'the secret')
      .description("let an agent use a secret, optionally narrower than the secret's binding")
      .option('--method <method>', 'only these methods (repeatable; within the secret)', collect)
      .option('--path <prefix>', 'only under these path prefixes (repeatable; within the secret)', collect)
      .option('--revoke', 'remove the grant instead'),
  ).action(act(async (ctx, agent, secretName, opts) => (await import('../commands/grant.js')).grantCommand(ctx, agent, secretName, opts)));

  withKeystoreOptions(
    program
      .command('run')
      .argument('<command...>', 'the command and its arguments, after --')
      .description('run a command with placeholders instead of secrets, behind the credential-swapping gateway')
      .option('--agent <name>', 'the agent the command runs as (required when there is more than one)')
      .option('--secret <secret>', 'only these of the agent\'s granted secrets (repeatable; default: all)', collect)
      .option('--deny-unlisted', 'refuse CONNECT to hosts no granted secret is bound to (default: blind tunnel)')
      .option('--no-inherit-env', "start the child from a minimal environment (PATH, HOME, TERM, locale, XDG_*) instead of this one's")
      .addOption(new Option('--upstream-ca <file>', 'also trust this CA for upstream TLS (self-hosted services; repeatable)').argParser(collect))
      .option('--sandbox', 'require the sandbox: exit 125 when this machine has none (default: sandbox when it can)')
      .option('--no-sandbox', 'run the child without a sandbox')
      .option('--sandbox-hide <path>', 'also hide PATH from the child, e.g. ~/.ssh (repeatable; config: run.sandbox-hide)', collect)
      .option('--sandbox-ro <path>', 'let the child read PATH but not change it (repeatable; config: run.sandbox-ro)', collect)
      .addHelpText(
        'after',
        `
Example:
  agentauth run --agent coder --sandbox-hide ~/.ssh --sandbox-hide ~/.aws -- claude

Sandbox: on Linux (bubblewrap) and macOS (sandbox-exec) the child cannot reach agentauth's
files, the keyring, the session bus or agentauth's process; the rest of your world stays as it is.
Default mode: agentauth config set run.sandbox required|auto|off (auto: sandbox when possible).

Exit status: the command's own; 125 agentauth failed before it started, 126 not executable, 127 not found.`,
      ),
  ).action(act(async (ctx, command, opts) => (await import('../commands/run/index.js')).runCommand(ctx, command, opts)));
}
