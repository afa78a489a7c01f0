// The one place where errors become exit codes and messages, and the one
// place that reads the process: argv, env and the streams become the context
// every command gets, built once here.
import { resolve, sep } from 'node:path';
import { internalError, isAgentAuthError, type AgentAuthError, type ErrorKind } from './core/errors.js';
import { userPathError } from './core/user-file.js';
import { SCHEMA_VERSION, type Outcome } from './commands/result.js';
import type { ProcessContext } from './commands/context.js';
import { endQuietlyWhenReaderGoes } from './ui/closed-output.js';
import { decideColour } from './ui/colour.js';
import { VERSION } from './version.js';
import { tryFastMint } from './fast-mint.js';

/** Exit statuses by kind: the table in README.md ("Exit codes"), which a test reads and holds this to. */
export const EXIT_CODES: Readonly<Record<'ok' | ErrorKind, number>> = {
  ok: 0,
  checkFailed: 1,
  usage: 2,
  notFound: 3,
  keystore: 4,
  policy: 5,
  internal: 70,
  childStart: 125,
  childNotExecutable: 126,
  childNotFound: 127,
};

export function exitCodeOf(error: AgentAuthError): number {
  return EXIT_CODES[error.kind];
}

function exitCodeOfOutcome(outcome: Outcome): number {
  return typeof outcome === 'object' ? outcome.childExitCode : EXIT_CODES[outcome];
}

export async function main(argv: string[], base: ProcessContext = readProcess(argv)): Promise<number> {
  endQuietlyWhenReaderGoes(process.stdout);
  endQuietlyWhenReaderGoes(process.stderr);
  // Scripts probe the version often; answer without loading the command tree.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    base.stdout.write(`${VERSION}\n`);
    return EXIT_CODES.ok;
  }
  try {
    // A shell loop's `token mint` is answered by a running serve before the command tree loads.
    if (argv[0] === 'token' && argv[1] === 'mint') {
      const answered = await tryFastMint(base);
      if (answered) return EXIT_CODES.ok;
    }
    const { runCli } = await import('./cli/program.js');
    return exitCodeOfOutcome(await runCli(base));
  } catch (error) {
    return reportError(base, error);
  }
}

/** The words before `--` (after it, they belong to `run`'s child). */
function ownWords(argv: readonly string[]): readonly string[] {
  const end = argv.indexOf('--');
  return end === -1 ? argv : argv.slice(0, end);
}

function readProcess(argv: string[]): ProcessContext {
  const env = process.env;
  const noColorFlag = ownWords(argv).includes('--no-color');
  return {
    argv,
    env,
    uid: process.getuid?.(),
    // Touching process.stdin builds a stream (net, readline…): only when a command reads it.
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    now: () => new Date(),
    colour: { stdout: decideColour(process.stdout, env, noColorFlag), stderr: decideColour(process.stderr, env, noColorFlag) },
    exitCodeOf,
  };
}

function reportError(base: ProcessContext, error: unknown): number {
  const known = isAgentAuthError(error)
    ? error
    : (asUserPathError(base, error) ??
      internalError('INTERNAL', `internal error: ${(error as Error)?.message ?? String(error)}`, {
        hint: 'this is a bug in agentauth; please report it with the command you ran (AGENTAUTH_DEBUG=1 shows the stack)',
      }));
  const label = base.colour.stderr ? '\u001b[31merror:\u001b[39m' : 'error:';
  let text = `${label} ${known.message}\n`;
  if (known.hint) text += `  hint: ${known.hint}\n`;
  if (base.env['AGENTAUTH_DEBUG'] && error instanceof Error && error.stack) text += `${error.stack}\n`;
  base.stderr.write(text);
  if (ownWords(base.argv).includes('--json')) {
    const body = { schemaVersion: SCHEMA_VERSION, ok: false, error: { code: known.code, message: known.message, ...(known.hint ? { hint: known.hint } : {}), ...(known.details ?? {}) } };
    base.stdout.write(`${JSON.stringify(body)}\n`);
  }
  return exitCodeOf(known);
}

/** Where the user names paths: a file-system failure on (or inside) one of these is theirs to fix, not a bug. */
const PATH_VARIABLES = ['AGENTAUTH_HOME', 'AGENTAUTH_AUDIT_LOG', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME', 'XDG_CACHE_HOME', 'HOME'];

function asUserPathError(base: ProcessContext, error: unknown): AgentAuthError | null {
  const failed = (error as NodeJS.ErrnoException | null)?.path;
  if (typeof failed !== 'string') return null;
  const words = ownWords(base.argv);
  const given: [string, string][] = [
    ...PATH_VARIABLES.flatMap((name): [string, string][] => (base.env[name] ? [[base.env[name]!, name]] : [])),
    ...words.flatMap((word, i): [string, string][] => (word.startsWith('-') ? [] : [[word, words[i - 1]?.startsWith('--') ? words[i - 1]! : 'the command line']])),
  ];
  const target = resolve(failed);
  for (const [path, source] of given) {
    const root = resolve(path);
    // `/` (HOME=/ in some containers) would claim every path.
    if (root === sep) continue;
    if (target === root || target.startsWith(root.endsWith(sep) ? root : root + sep)) return userPathError(error, path, source);
  }
  return null;
}
