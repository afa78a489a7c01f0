// The command tree. Each action lazy-imports its module from src/commands/,
// so `agentauth token mint` never loads the TLS gateway or the prompts.
import { CommanderError } from 'commander';
import { Command, Option, type AnyCommand, type OptionValues } from './commander.js';
import { createContext, type Context, type ProcessContext } from '../commands/context.js';
import { SCHEMA_VERSION, type CommandResult, type Outcome } from '../commands/result.js';
import { collect, withJson, withKeystoreOptions, type CliKit } from './kit.js';
import { declareAuditCommands } from './audit.js';
import { declareGatewayCommands } from './gateway.js';
import { declareConfigCommands } from './config.js';
import { declareLifecycleCommands } from './lifecycle.js';

import { VERSION } from '../version.js';

/** Runs one command line; src/main.ts turns the outcome (or what it throws) into the exit status. */
export async function runCli(base: ProcessContext): Promise<Outcome> {
  let outcome: Outcome = 'ok';
  const program = createProgram(base, (result) => (outcome = result));
  try {
    await program.parseAsync(protectKidOperands(base.argv), { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.unknownOption') suggestDoubleDash(base, program);
      // Help and --version are "errors" to commander; everything else is usage.
      return error.exitCode === 0 ? 'ok' : 'usage';
    }
    throw error;
  }
  return outcome;
}

/** A key id: the base64url SHA-256 thumbprint of the key, 43 characters. One in 64 starts with '-'. */
const DASHED_KID = /^-[\w-]{42}$/;

/**
 * `agentauth key retire -Xy…`: commander would read a kid that starts with '-'
 * as an unknown option (or, for -V…, as --version). No option has that shape,
 * so after `key retire` such a word moves behind `--`, where it is an operand.
 */
function protectKidOperands(argv: readonly string[]): string[] {
  const end = argv.includes('--') ? argv.indexOf('--') : argv.length;
  const head = argv.slice(0, end);
  if (head.filter((word) => !word.startsWith('-')).slice(0, 2).join(' ') !== 'key retire') return [...argv];
  const kids = head.filter((word) => DASHED_KID.test(word));
  if (kids.length === 0) return [...argv];
  return [...head.filter((word) => !DASHED_KID.test(word)), '--', ...kids, ...argv.slice(end + 1)];
}

/**
 * `agentauth run --agent x ls -la`: commander sees -la as run's option. When
 * the command's words came before any `--`, show the line with `--` in place.
 */
function suggestDoubleDash(base: ProcessContext, program: Command): void {
  const argv = base.argv;
  const at = argv.indexOf('run');
  if (at === -1 || argv.includes('--') || argv.slice(0, at).some((word) => !word.startsWith('-'))) return;
  const run = program.commands.find((command) => command.name() === 'run')!;
  let i = at + 1;
  while (i < argv.length && argv[i]!.startsWith('-')) {
    const option = run.options.find((candidate) => candidate.long === argv[i] || candidate.short === argv[i]);
    i += option && (option.required || option.optional) ? 2 : 1;
  }
  if (i >= argv.length) return;
  const fixed = ['agentauth', ...argv.slice(0, i), '--', ...argv.slice(i)].map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`));
  base.stderr.write(`hint: to pass flags to the command, put -- before it: ${fixed.join(' ')}\n`);
}

/**
 * The whole command tree; also walked by the completion and man page
 * generators (scripts/), which never run an action.
 */
export function createProgram(base?: ProcessContext, onOutcome: (outcome: Outcome) => void = () => {}): Command {
  const program = new Command('agentauth');
  const kit: CliKit = {
    act:
      (body) =>
      async (...args) => {
        if (!base) throw new Error('createProgram() without a process context cannot run commands');
        // Commander passes (…operands, options, command); options carry --json.
        const command = args[args.length - 1] as AnyCommand;
        const opts = command.optsWithGlobals() as { json?: boolean };
        const ctx = createContext(base);
        const result = await body(ctx, ...args);
        printResult(ctx, result, opts.json === true);
        onOutcome(result.outcome ?? 'ok');
      },
    withKeystoreOptions,
    withJson,
  };

  program
    .version(VERSION, '-V, --version', 'print the version')
    .description('Real identities for AI agents, short-lived tokens, a credential-swapping gateway and a tamper-evident audit log.')
    .option('--no-color', 'never colour the output (NO_COLOR works too)')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: (text) => void base?.stdout.write(text), writeErr: (text) => void base?.stderr.write(text) })
    .addHelpText(
      'after',
      `
Quick start:
  agentauth init                                   # keychain, or an encrypted file on headless machines
  agentauth agent add home-monitor --scope docker:restart:nginx
  TOKEN=$(agentauth token mint home-monitor --aud pack.lan)
  agentauth token verify "$TOKEN" --aud pack.lan
  agentauth audit verify

Keeping it: agentauth backup --out FILE, then agentauth restore FILE on the new machine
(migrate --to file|keychain moves the keys; reset removes the install, keeping the log).
Exit codes: 0 ok, 1 check failed, 2 usage, 3 not found, 4 keystore, 5 policy, 70 bug.
Files: AGENTAUTH_HOME=DIR keeps everything in DIR (default: XDG folders).`,
    );

  declareCoreCommands(program, kit);
  declareAuditCommands(program, kit);
  declareGatewayCommands(program, kit);
  declareConfigCommands(program, kit);
  declareLifecycleCommands(program, kit);
  return program;
}

function printResult(ctx: Context, result: CommandResult, json: boolean): void {
  if (json) {
    ctx.stdout.write(`${JSON.stringify({ schemaVersion: SCHEMA_VERSION, ...result.data })}\n`);
    return;
  }
  if (!result.render) return;
  const text = result.render(ctx.style);
  if (text.length > 0) ctx.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function declareCoreCommands(program: Command, kit: CliKit): void {
  const { act, withKeystoreOptions, withJson } = kit;

  withJson(
    withKeystoreOptions(
      program
        .command('init')
        .description('create the issuer key, the audit log key and the config')
        .addOption(new Option('--backend <backend>', 'where private keys live (default: keychain when it answers, else file)').choices(['keychain', 'file']))
        .option('--issuer <id>', 'issuer id for the iss claim (default: urn:agentauth:<hostname>)')
        .option('-y, --yes', 'accept defaults without asking (falls back to the file backend)'),
    ),
  ).action(act(async (ctx, opts) => (await import('../commands/init.js')).initCommand(ctx, opts)));

  withJson(program.command('status').description('backend, paths, permissions, active key and counts')).action(
    act(async (ctx, opts) => (await import('../commands/init.js')).statusCommand(ctx, opts)),
  );

  withJson(withKeystoreOptions(program.command('doctor').description('check what this install needs (keychain or passphrase, file modes, keys, sandbox), with the fixes'))).action(
    act(async (ctx, opts) => (await import('../commands/doctor.js')).doctorCommand(ctx, opts)),
  );

  const key = program.command('key').description('the issuer signing keys');
  withJson(key.command('show').description('list the issuer keys (public halves)')).action(
    act(async (ctx) => (await import('../commands/key.js')).showKeysCommand(ctx)),
  );
  withJson(withKeystoreOptions(key.command('rotate').description('make a new active key; the old one stays in the JWKS until its tokens expire'))).action(
    act(async (ctx, opts) => (await import('../commands/key.js')).rotateKeyCommand(ctx, opts)),
  );
  withJson(withKeystoreOptions(key.command('retire').argument('<kid>', 'the key id to remove').description('remove a previous key from the JWKS now'))).action(
    act(async (ctx, kid, opts) => (await import('../commands/key.js')).retireKeyCommand(ctx, kid, opts)),
  );
  key
    .command('jwks')
    .description('print the public JWKS')
    .action(act(async (ctx) => (await import('../commands/key.js')).jwksCommand(ctx)));
  program
    .command('jwks')
    .description('print the public JWKS (same as key jwks)')
    .action(act(async (ctx) => (await import('../commands/key.js')).jwksCommand(ctx)));

  const agent = program.command('agent').description('named agents and what they may hold');
  const agentFields = <A extends unknown[], O extends OptionValues, G extends OptionValues>(command: Command<A, O, G>) =>
    command
      .option('--max-ttl <duration>', 'longest token lifetime (90s, 15m, 1h, 7d; default 1h)')
      .option('--aud <audience...>', 'audiences tokens may name (default: any)')
      .option('--secret <secret...>', 'grant these gateway secrets')
      .option('--description <text>', 'what the agent is for')
      // Declared before --no-dpop (update): commander takes the default from the first of the pair.
      .option('--dpop', 'require DPoP-bound tokens: a mint without --dpop-key or --dpop-jkt is refused');
  withJson(
    agentFields(
      agent
        .command('add')
        .argument('<name>', 'agent name ([a-z0-9][a-z0-9._-]{0,62})')
        .description('register an agent with the scopes it may ever hold')
        .requiredOption('--scope <scope...>', 'scopes the agent may hold; a trailing * grants a prefix (docker:restart:*)'),
    ),
  ).action(act(async (ctx, name, opts) => (await import('../commands/agent.js')).addAgentCommand(ctx, name, opts)));
  withJson(agent.command('list').description('list agents').option('--names', 'print only the names, one a line (for completions)')).action(
    act(async (ctx, opts) => (await import('../commands/agent.js')).listAgentsCommand(ctx, opts)),
  );
  withJson(agent.command('show').argument('<name>').description("show one agent's entry")).action(
    act(async (ctx, name) => (await import('../commands/agent.js')).showAgentCommand(ctx, name)),
  );
  withJson(
    agentFields(
      agent
        .command('update')
        .argument('<name>')
        .description("change an agent's entry")
        .option('--scope <scope...>', 'replace the scopes')
        .option('--add-scope <scope...>', 'add scopes')
        .option('--remove-scope <scope...>', 'remove scopes'),
    ).option('--no-dpop', 'stop requiring DPoP-bound tokens'),
  ).action(act(async (ctx, name, opts) => (await import('../commands/agent.js')).updateAgentCommand(ctx, name, opts)));
  withJson(agent.command('remove').alias('rm').argument('<name>').description('remove an agent (its tokens stay valid until they expire)')).action(
    act(async (ctx, name) => (await import('../commands/agent.js')).removeAgentCommand(ctx, name)),
  );

  const token = program.command('token').description('mint, verify and inspect agent tokens');
  withJson(
    withKeystoreOptions(
      token
        .command('mint')
        .argument('<agent>', 'the agent the token is for')
        .description('print a signed EdDSA JWT (only the token on stdout)')
        .option('--aud <audience>', "the one service this token is for (default: the agent's audience, when it allows exactly one)")
        .option('--scope <scope...>', "scopes to include (default: the agent's concrete scopes; a wildcard only when named)")
        .option('--ttl <duration>', 'lifetime (default 15m, never above the agent max)')
        .option('--on-behalf-of <user>', 'sub becomes user:USER and act.sub the agent (RFC 8693)')
        .option('--dpop-key <file>', 'bind the token to this DPoP key (cnf.jkt; RFC 9449): from agentauth dpop keygen')
        .option('--dpop-jkt <thumbprint>', 'bind the token to the DPoP key with this RFC 7638 thumbprint')
        .option('--direct', 'unlock the keystore here even when agentauth serve is running')
        .option('--with-trust', 'add an agentauth_trust claim: the agent’s trust score at a checkpoint signed now (docs/trust.md); mints directly')
        .addHelpText(
          'after',
          `
When agentauth serve runs (socket: AGENTAUTH_SOCK, or the default path), the mint goes
through it: same checks, same audit event, same output, no unlock here. Otherwise, or with
--direct, this process unlocks the keystore itself.`,
        ),
    ),
  ).action(act(async (ctx, name, opts) => (await import('../commands/token.js')).mintTokenCommand(ctx, name, opts)));
  withJson(
    token
      .command('verify')
      .argument('[token]', 'the token, or - for stdin (default: stdin)')
      .description('verify a token offline against a pinned JWKS')
      .option('--jwks <file|url>', 'a JWKS file or URL (default: this install)')
      .option('--iss <issuer>', 'required issuer (default with the local JWKS: this install)')
      .option('--aud <audience>', 'required audience')
      .option('--scope <scope>', 'required scope (repeatable)', collect)
      .option('--clock-skew <duration>', 'tolerance for exp/nbf/iat', '30s')
      .option('--dpop-proof <proof>', 'the DPoP proof the token came with (RFC 9449); needs --method and --url')
      .option('--method <method>', 'the HTTP method of the request the proof came with')
      .option('--url <url>', 'the URL of the request the proof came with'),
  ).action(act(async (ctx, value, opts) => (await import('../commands/token.js')).verifyTokenCommand(ctx, value, opts)));
  withJson(
    token
      .command('inspect')
      .argument('[token]', 'the token, or - for stdin (default: stdin)')
      .description('decode a token WITHOUT verifying it'),
  ).action(act(async (ctx, value) => (await import('../commands/token.js')).inspectTokenCommand(ctx, value)));

  withKeystoreOptions(
    program
      .command('serve')
      .description('unlock once; mint on a socket for token mint; publish the JWKS and discovery over HTTP')
      .option('--listen <addr:port>', 'HTTP address (0.0.0.0:8765 to serve the LAN)', '127.0.0.1:8765')
      .option('--socket <path>', 'the mint socket (default: AGENTAUTH_SOCK, or $XDG_RUNTIME_DIR/agentauth/serve.sock)')
      .option('--no-http', 'only the mint socket, no HTTP')
      .option('--idle-lock <duration>', 'forget the keys and stop after this long without a mint (15m, 1h, …)')
      .addHelpText(
        'after',
        `
HTTP (read-only, public): /.well-known/jwks.json, /.well-known/oauth-authorization-server,
/.well-known/openid-configuration, /checkpoint, /healthz.
Logs go to stderr, one line per event. SIGTERM or SIGINT stop it; config changes
(agent update, key rotate, config set issuer) apply without a restart.
Example (Pi, passphrase from systemd): AGENTAUTH_PASSPHRASE_FILE=%d/pass agentauth serve --listen 0.0.0.0:8765`,
      ),
  ).action(act(async (ctx, opts) => (await import('../commands/serve.js')).serveCommand(ctx, opts)));

  const dpop = program.command('dpop').description('DPoP proof keys and proofs (RFC 9449) for sender-constrained tokens');
  withJson(
    dpop
      .command('keygen')
      .argument('<file>', 'where to write the private key (a JWK, mode 0600; never overwritten)')
      .description('make a DPoP proof key; prints its thumbprint (the jkt tokens are bound to)')
      .addOption(new Option('--alg <alg>', 'key type').choices(['EdDSA', 'ES256']).default('EdDSA')),
  ).action(act(async (ctx, file, opts) => (await import('../commands/dpop.js')).keygenCommand(ctx, file, opts)));
  withJson(
    dpop
      .command('proof')
      .description('print a DPoP proof for one request')
      .requiredOption('--key <file>', 'the private key from dpop keygen')
      .requiredOption('--method <method>', 'the request method (GET, POST, …)')
      .requiredOption('--url <url>', 'the request URL (query and fragment are left out of the proof)')
      .option('--token <token>', 'the access token sent with it (adds ath, its hash)')
      .addHelpText('after', '\nExample:\n  curl -H "Authorization: DPoP $T" -H "DPoP: $(agentauth dpop proof --key k.jwk --method GET --url "$U" --token "$T")" "$U"'),
  ).action(act(async (ctx, opts) => (await import('../commands/dpop.js')).proofCommand(ctx, opts)));

  // For `npm run man` (scripts/gen-man.mjs); not part of the documented surface.
  program
    .command('manpage', { hidden: true })
    .description('print the manual page (roff)')
    .action(act(async (ctx) => (await import('../commands/manpage.js')).manpageCommand(ctx, program)));

  program
    .command('completion')
    .argument('<shell>', 'bash, zsh or fish')
    .description('print the shell completion script')
    .action(act(async (ctx, shell) => (await import('../commands/completion.js')).completionCommand(ctx, shell, program)));
}
