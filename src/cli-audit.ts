// `agentauth audit …` (audit-log.md). Declared apart from cli.ts so the audit
// surface can be read in one place.
import type { Command } from 'commander';
import type { CliKit } from './cli-kit.js';

export function declareAuditCommands(program: Command, kit: CliKit): void {
  const { act, withJson, withKeystoreOptions } = kit;
  const audit = program.command('audit').description('the tamper-evident audit log: verify, replay, trust, prove, checkpoint, rotate');
  const withLog = (command: Command) => command.option('--log <file>', 'the audit log (default: this install’s; also AGENTAUTH_AUDIT_LOG)');
  // verify and replay check the log the same way.
  const withVerifyOptions = (command: Command) =>
    command
      .option('--vkey <vkey>', 'the log’s verifier key, or a file holding it (default: this install’s)')
      .option('--trusted <file>', 'a checkpoint kept elsewhere: the log must extend it')
      .option('--strict', 'warnings fail the check too');

  const localTime = (command: Command) => command.option('--local-time', 'show times in this machine’s time zone (default: UTC, as written in the log)');

  withJson(
    withLog(
      withVerifyOptions(audit.command('verify'))
        .argument('[files...]', 'log files or folders of segments (default: this install’s log and the segments sealed beside it)')
        .description('check every line, the hash chain, every signed checkpoint and the links between segments (exit 1 when tampered)')
        .option('--threads <n>', 'worker threads for scanning (default: one per spare core, for large logs)')
        .addHelpText(
          'after',
          `
A rotated log is several files: audit.jsonl (live) and audit-<segment>-<date>.jsonl[.gz]
(sealed). Given a folder or several files, verify checks each and the links between them,
and says where each segment starts. Old segments may be gzipped or deleted: what remains
must start at the signed checkpoint its first log.init names.

Examples:
  agentauth audit verify                                  # this install's log, every segment
  agentauth audit verify ~/.local/state/agentauth         # the same, named
  agentauth audit verify audit.jsonl --trusted head.note  # one file, against a checkpoint kept elsewhere`,
        ),
    ),
  ).action(act(async (ctx, files, opts) => (await import('./commands/audit.js')).verifyCommand(ctx, files as string[], opts as never)));

  withJson(
    localTime(
      withLog(
        withVerifyOptions(audit.command('replay'))
          .argument('[files...]', 'log files or folders of segments (default: this install’s log and its sealed segments)')
          .description('verify, then show what happened: tokens, requests, denials, runs, and invariant violations')
          .option('--agent <name>', 'only this agent')
          .option('--kind <kind>', 'only this kind (a trailing * matches a prefix: gateway.*)')
          .option('--since <time>', 'from this time (RFC 3339, or a duration ago: 1h)')
          .option('--until <time>', 'before this time (RFC 3339, or a duration ago)')
          .option('--host <host>', 'only requests to this host')
          .option('--jti <jti>', 'only events of this token'),
      ),
    ),
  ).action(act(async (ctx, files, opts) => (await import('./commands/audit.js')).replayCommand(ctx, files as string[], opts as never)));

  withJson(
    localTime(
      withLog(
        withVerifyOptions(audit.command('trust'))
          .argument('[agent]', 'the agent to score (default: every agent the log names)')
          .argument('[files...]', 'log files or folders of segments (default: this install’s log and its sealed segments)')
          .description('a trust score (0–1000) from the verified log alone, with its parts (docs/trust.md)')
          .option('--at <root>', 'count up to the checkpoint with this root (an agentauth_trust claim’s log.root), not the last one')
          .addHelpText(
            'after',
            `
The score counts only events a signed checkpoint covers, up to the last checkpoint (or --at
ROOT). It is a pure function of those events, in integers, so anyone holding the log can
recompute it: the formula is in docs/trust.md. token mint --with-trust puts it in a token.`,
          ),
      ),
    ),
  ).action(act(async (ctx, agent, files, opts) => (await import('./commands/audit.js')).trustCommand(ctx, agent as string | undefined, files as string[], opts as never)));

  withJson(
    withLog(
      audit
        .command('prove')
        .description('print an inclusion proof (--seq N [--size M]) or a consistency proof (--from A --to B) against signed checkpoints')
        .option('--seq <n>', 'the event to prove')
        .option('--size <m>', 'the checkpoint size to prove against (default: the latest)')
        .option('--from <a>', 'the older checkpoint size')
        .option('--to <b>', 'the newer checkpoint size')
        .option('--out <file>', 'also write the proof to FILE'),
    ),
  ).action(act(async (ctx, opts) => (await import('./commands/audit.js')).proveCommand(ctx, opts as never)));

  withJson(
    audit
      .command('verify-proof')
      .argument('[file]', 'the proof from audit prove (default: stdin)')
      .description('check a proof with only the proof, its checkpoints and the vkey')
      .option('--vkey <vkey>', 'the log’s verifier key, or a file holding it (default: this install’s)'),
  ).action(act(async (ctx, file, opts) => (await import('./commands/audit.js')).verifyProofCommand(ctx, file as string | undefined, opts as never)));

  withJson(
    withKeystoreOptions(
      withLog(
        audit
          .command('checkpoint')
          .description('sign a checkpoint of the log now')
          .option('--out <file>', 'also write the signed note to FILE (keep it elsewhere for audit verify --trusted)'),
      ),
    ),
  ).action(act(async (ctx, opts) => (await import('./commands/audit.js')).checkpointCommand(ctx, opts as never)));

  withJson(
    withKeystoreOptions(
      withLog(
        audit
          .command('rotate')
          .description('seal the live log with a checkpoint and start a new segment that names it')
          .addHelpText(
            'after',
            `
audit.jsonl stays the live segment; the sealed one becomes audit-<segment>-<first day>.jsonl
beside it, and may later be gzipped or deleted. It also happens on its own once the live log
reaches audit.rotate-bytes (default 64M; agentauth config set audit.rotate-bytes 16M | off).`,
          ),
      ),
    ),
  ).action(act(async (ctx, opts) => (await import('./commands/audit.js')).rotateCommand(ctx, opts as never)));

  withJson(audit.command('vkey').description('print the log’s verifier key (C2SP vkey)')).action(
    act(async (ctx) => (await import('./commands/audit.js')).vkeyCommand(ctx)),
  );

  withJson(
    withLog(
      audit
        .command('tail')
        .description('show the last events')
        .option('-n, --lines <n>', 'how many lines', '10')
        .option('-f, --follow', 'keep printing new events until interrupted')
        .option('--local-time', 'show times in this machine’s time zone (default: UTC)'),
    ),
  ).action(act(async (ctx, opts) => (await import('./commands/audit.js')).tailCommand(ctx, opts as never)));
}
