// The one place where errors become exit codes and messages.
import { AgentAuthError, ExitCode, isAgentAuthError } from './core/errors.js';
import { SCHEMA_VERSION } from './commands/result.js';
import { endQuietlyWhenReaderGoes } from './ui/closed-output.js';
import { VERSION } from './version.js';
import { tryFastMint } from './fast-mint.js';

export async function main(argv: string[]): Promise<number> {
  endQuietlyWhenReaderGoes(process.stdout);
  endQuietlyWhenReaderGoes(process.stderr);
  const wantsJson = argv.slice(0, indexOrEnd(argv, '--')).includes('--json');
  const debug = Boolean(process.env['AGENTAUTH_DEBUG']);
  // Scripts probe the version often; answer without loading the command tree.
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
    process.stdout.write(`${VERSION}\n`);
    return ExitCode.ok;
  }
  try {
    // A shell loop's `token mint` is answered by a running serve before the command tree loads.
    if (argv[0] === 'token' && argv[1] === 'mint') {
      const code = await tryFastMint(argv, process.env);
      if (code !== undefined) return code;
    }
    const { runCli } = await import('./cli.js');
    return await runCli(argv);
  } catch (error) {
    return reportError(error, wantsJson, debug);
  }
}

function indexOrEnd(argv: string[], marker: string): number {
  const i = argv.indexOf(marker);
  return i === -1 ? argv.length : i;
}

function reportError(error: unknown, wantsJson: boolean, debug: boolean): number {
  const known: AgentAuthError = isAgentAuthError(error)
    ? error
    : new AgentAuthError('INTERNAL', ExitCode.internal, `internal error: ${(error as Error)?.message ?? String(error)}`, {
        hint: 'this is a bug in agentauth; please report it with the command you ran (AGENTAUTH_DEBUG=1 shows the stack)',
      });
  const colour = process.stderr.isTTY === true && !process.env['NO_COLOR'] && !process.argv.includes('--no-color');
  const label = colour ? '\u001b[31merror:\u001b[39m' : 'error:';
  let text = `${label} ${known.message}\n`;
  if (known.hint) text += `  hint: ${known.hint}\n`;
  if (debug && error instanceof Error && error.stack) text += `${error.stack}\n`;
  process.stderr.write(text);
  if (wantsJson) {
    const body = { schemaVersion: SCHEMA_VERSION, ok: false, error: { code: known.code, message: known.message, ...(known.hint ? { hint: known.hint } : {}), ...(known.details ?? {}) } };
    process.stdout.write(`${JSON.stringify(body)}\n`);
  }
  return known.exitCode;
}
