// `agentauth audit …` (audit-log.md). Declared apart from cli.ts so the audit
// surface can be read in one place.
import type { Command } from 'commander';
import type { CliKit } from './cli.js';

export function declareAuditCommands(program: Command, kit: CliKit): void {
  const { act, withJson, withKeystoreOptions } = kit;
  const audit = program.command('audit').description('the tamper-evident audit log: verify, replay, prove, checkpoint');
  const withLog = (command: Command) => command.option('--log <file>', 'the audit log (default: this install’s; also AGENTAUTH_AUDIT_LOG)');
  // verify and replay check the log the same way.
  const withVerifyOptions = (command: Command) =>
    command
      .option('--vkey <vkey>', 'the log’s verifier key, or a file holding it (default: this install’s)')
      .option('--trusted <file>', 'a checkpoint kept elsewhere: the log must extend it')
      .option('--strict', 'warnings fail the check too');

  withJson(
    withLog(
      withVerifyOptions(audit.command('verify'))
        .argument('[file]', 'the log to check (default: this install’s)')
        .description('check every line, the hash chain and every signed checkpoint (exit 1 when tampered)')
        .option('--threads <n>', 'worker threads for scanning (default: one per spare core, for large logs)'),
    ),
  ).action(act(async (ctx, file, opts) => (await import('./commands/audit.js')).verifyCommand(ctx, file as string | undefined, opts as never)));

  withJson(
    withLog(
      withVerifyOptions(audit.command('replay'))
        .argument('[file]', 'the log to replay (default: this install’s)')
        .description('verify, then show what happened: tokens, requests, denials, runs, and invariant violations')
        .option('--agent <name>', 'only this agent')
        .option('--kind <kind>', 'only this kind (a trailing * matches a prefix: gateway.*)')
        .option('--since <time>', 'from this time (RFC 3339, or a duration ago: 1h)')
        .option('--until <time>', 'before this time (RFC 3339, or a duration ago)')
        .option('--host <host>', 'only requests to this host')
        .option('--jti <jti>', 'only events of this token'),
    ),
  ).action(act(async (ctx, file, opts) => (await import('./commands/audit.js')).replayCommand(ctx, file as string | undefined, opts as never)));

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

  withJson(audit.command('vkey').description('print the log’s verifier key (C2SP vkey)')).action(
    act(async (ctx) => (await import('./commands/audit.js')).vkeyCommand(ctx)),
  );

  withJson(
    withLog(
      audit
        .command('tail')
        .description('show the last events')
        .option('-n, --lines <n>', 'how many lines', '10')
        .option('-f, --follow', 'keep printing new events until interrupted'),
    ),
  ).action(act(async (ctx, opts) => (await import('./commands/audit.js')).tailCommand(ctx, opts as never)));
}
