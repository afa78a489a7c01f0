// `agentauth audit …`: verify, replay, prove, verify-proof, checkpoint, vkey, tail.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync, watchFile, unwatchFile } from 'node:fs';
import { readConfig } from '../core/config.js';
import { ExitCode, notFoundError, usageError } from '../core/errors.js';
import { writePrivateFileAtomic } from '../core/fs-safe.js';
import { requireEntry, entryName } from '../core/keystore/index.js';
import { loadLogSigner, parseVkey, type LogVerifierKey } from '../core/audit/log-key.js';
import { appendEvents } from '../core/audit/writer.js';
import { readTailLines } from '../core/audit/tail.js';
import type { VerifyReport } from '../core/audit/verify.js';
import type { ReplayEvent, ReplayFilters } from '../core/audit/replay.js';
import type { Context, KeystoreFlags } from './context.js';
import { loadConfig, openKeystore } from './state.js';
import type { CommandResult } from './result.js';
import { SCHEMA_VERSION } from './result.js';
import { renderCheckpoint, renderProofCheck, renderReplay, renderReplayEvent, renderTailLine, renderVerify } from '../ui/render-audit.js';

interface LogFlag {
  log?: string;
}

export interface VerifyFlags extends LogFlag {
  vkey?: string;
  trusted?: string;
  strict?: boolean;
  threads?: string;
}

function resolveLog(ctx: Context, file: string | undefined, flags: LogFlag): { file: string; explicit: boolean } {
  const chosen = file ?? flags.log;
  return { file: chosen ?? ctx.paths.auditLog, explicit: chosen !== undefined };
}

function requireLogFile(file: string): void {
  if (!existsSync(file)) {
    throw notFoundError('NO_AUDIT_LOG', `there is no audit log at ${file}`, { hint: 'run agentauth init, or name the log: agentauth audit verify FILE (or --log FILE, AGENTAUTH_AUDIT_LOG)' });
  }
}

function firstLineOrigin(file: string): string | null {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(fstatSync(fd).size, 1 << 16));
    const n = readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString('utf8');
    const log = (JSON.parse(text.slice(0, text.indexOf('\n') >= 0 ? text.indexOf('\n') : undefined)) as { log?: unknown }).log;
    return typeof log === 'string' ? log : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * The vkey to trust: --vkey, else this install's (config) for its own log or
 * for a log of the same origin. Else none: the verifier falls back to the
 * log's own hint and says so (VKEY_FROM_LOG).
 */
function chooseVkey(ctx: Context, file: string, explicit: boolean, flag: string | undefined): string | undefined {
  if (flag !== undefined) return readVkeyFlag(flag).text;
  const config = readConfig(ctx.paths);
  if (!config?.log?.vkey) return undefined;
  if (!explicit || firstLineOrigin(file) === config.log.origin) return config.log.vkey;
  return undefined;
}

async function runVerify(ctx: Context, file: string | undefined, flags: VerifyFlags): Promise<VerifyReport> {
  const log = resolveLog(ctx, file, flags);
  requireLogFile(log.file);
  const vkey = chooseVkey(ctx, log.file, log.explicit, flags.vkey);
  let trusted: string | undefined;
  if (flags.trusted !== undefined) {
    try {
      trusted = readFileSync(flags.trusted, 'utf8');
    } catch (error) {
      throw notFoundError('NO_TRUSTED_CHECKPOINT', `cannot read the trusted checkpoint ${flags.trusted} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const threads = flags.threads === undefined ? undefined : Number(flags.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0 && threads <= 16)) throw usageError('BAD_THREADS', '--threads must be an integer from 0 to 16');
  const { verifyLogFile } = await import('../core/audit/verify.js');
  return verifyLogFile(log.file, { ...(vkey !== undefined ? { vkey } : {}), ...(trusted !== undefined ? { trusted } : {}), ...(threads !== undefined ? { threads } : {}) });
}

function verifyExitCode(report: VerifyReport, strict: boolean): number {
  if (!report.ok) return ExitCode.checkFailed;
  if (strict && report.warnings.length > 0) return ExitCode.checkFailed;
  return ExitCode.ok;
}

export async function verifyCommand(ctx: Context, file: string | undefined, flags: VerifyFlags): Promise<CommandResult> {
  const report = await runVerify(ctx, file, flags);
  const strict = flags.strict === true;
  for (const warning of report.warnings) {
    if (warning.code === 'VKEY_FROM_LOG' || warning.code === 'TORN_TAIL') ctx.warn(`${warning.code}: ${warning.message}`);
  }
  const exitCode = verifyExitCode(report, strict);
  return {
    data: { ...report, verified: report.ok, ok: exitCode === ExitCode.ok, strict },
    render: (style) => renderVerify(report, strict, exitCode === ExitCode.ok, style),
    exitCode,
  };
}

export interface ReplayFlags extends VerifyFlags {
  agent?: string;
  kind?: string;
  since?: string;
  until?: string;
  host?: string;
  jti?: string;
  json?: boolean;
}

function parseTime(value: string, flag: string): number {
  const relative = /^(\d+)(s|m|h|d)$/.exec(value);
  if (relative) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 's' | 'm' | 'h' | 'd'];
    return Date.now() - Number(relative[1]) * unit;
  }
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw usageError('BAD_TIME', `${flag} must be an RFC 3339 time (2026-11-22T14:00:00Z) or a duration ago (90s, 15m, 1h, 7d): ${value}`);
  return at;
}

export async function replayCommand(ctx: Context, file: string | undefined, flags: ReplayFlags): Promise<CommandResult> {
  const filters: ReplayFilters = {};
  if (flags.agent !== undefined) filters.agent = flags.agent;
  if (flags.kind !== undefined) filters.kind = flags.kind;
  if (flags.since !== undefined) filters.since = parseTime(flags.since, '--since');
  if (flags.until !== undefined) filters.until = parseTime(flags.until, '--until');
  if (flags.host !== undefined) filters.host = flags.host;
  if (flags.jti !== undefined) filters.jti = flags.jti;
  const log = resolveLog(ctx, file, flags);
  requireLogFile(log.file);
  const vkey = chooseVkey(ctx, log.file, log.explicit, flags.vkey);
  const trusted = flags.trusted !== undefined ? readFileSync(flags.trusted, 'utf8') : undefined;
  const json = flags.json === true;
  // Events are held until the whole log has verified: nothing from a tampered log is printed as fact.
  const events: ReplayEvent[] = [];
  if (json) ctx.io.stdout.write(`${JSON.stringify({ schemaVersion: SCHEMA_VERSION, type: 'header', file: log.file, filters })}\n`);
  const { replayLog } = await import('../core/audit/replay.js');
  const result = await replayLog(log.file, { ...(vkey !== undefined ? { vkey } : {}), ...(trusted !== undefined ? { trusted } : {}) }, filters, (event) => events.push(event));
  const exitCode = verifyExitCode(result.report, flags.strict === true);
  if (result.report.ok) {
    if (json) {
      for (const event of events) ctx.io.stdout.write(`${JSON.stringify({ type: 'event', ...event })}\n`);
      for (const violation of result.violations) ctx.io.stdout.write(`${JSON.stringify({ type: 'violation', ...violation })}\n`);
    }
  } else {
    ctx.warn(`the log did not verify (${result.report.error?.code ?? '?'}): nothing is replayed`);
  }
  if (result.violations.length > 0) ctx.warn(`${result.violations.length} invariant violation(s) found`);
  const { report } = result;
  return {
    data: {
      type: 'summary',
      ok: exitCode === ExitCode.ok,
      verified: report.ok,
      error: report.error,
      warnings: report.warnings,
      events: report.events,
      matched: result.matched,
      agents: report.ok ? result.agents : [],
      violations: report.ok ? result.violations : [],
    },
    render: (style) => (report.ok ? [...events.map((e) => renderReplayEvent(e, style)), renderReplay(result, style)].join('\n') : renderVerify(report, false, false, style)),
    exitCode,
  };
}

export interface ProveFlags extends LogFlag {
  seq?: string;
  size?: string;
  from?: string;
  to?: string;
  out?: string;
}

function integerFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw usageError('BAD_NUMBER', `${flag} must be a non-negative integer: ${value}`);
  return Number(value);
}

export async function proveCommand(ctx: Context, flags: ProveFlags): Promise<CommandResult> {
  const log = resolveLog(ctx, undefined, flags);
  requireLogFile(log.file);
  const seq = integerFlag(flags.seq, '--seq');
  const size = integerFlag(flags.size, '--size');
  const from = integerFlag(flags.from, '--from');
  const to = integerFlag(flags.to, '--to');
  const { proveInclusion, proveConsistency } = await import('../core/audit/prove.js');
  let proof;
  if (seq !== undefined && from === undefined && to === undefined) proof = proveInclusion(log.file, seq, size);
  else if (seq === undefined && size === undefined && from !== undefined && to !== undefined) proof = proveConsistency(log.file, from, to);
  else throw usageError('BAD_PROVE_ARGS', 'use either --seq N [--size M] (inclusion) or --from A --to B (consistency)');
  const text = `${JSON.stringify({ schemaVersion: SCHEMA_VERSION, ...proof }, null, 2)}\n`;
  if (flags.out) writePrivateFileAtomic(flags.out, text);
  // The proof document is the output, in both modes: it is what verify-proof reads.
  return { data: { ...proof }, render: () => text };
}

export interface VerifyProofFlags {
  vkey?: string;
}

export async function verifyProofCommand(ctx: Context, file: string | undefined, flags: VerifyProofFlags): Promise<CommandResult> {
  let text: string;
  if (file === undefined || file === '-') {
    const { readAllStdin } = await import('./context.js');
    text = await readAllStdin(ctx.io.stdin);
  } else {
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw notFoundError('NO_PROOF_FILE', `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  let proof: unknown;
  try {
    proof = JSON.parse(text);
  } catch {
    throw usageError('BAD_PROOF', 'the proof is not JSON (expected the output of agentauth audit prove)');
  }
  const key = trustedKey(ctx, flags.vkey);
  const { verifyProof } = await import('../core/audit/prove.js');
  const check = verifyProof(proof, key);
  return { data: { ...check }, render: (style) => renderProofCheck(check, style), exitCode: check.ok ? ExitCode.ok : ExitCode.checkFailed };
}

function trustedKey(ctx: Context, flag: string | undefined): LogVerifierKey {
  if (flag !== undefined) return readVkeyFlag(flag).key;
  const text = readConfig(ctx.paths)?.log?.vkey;
  if (text === undefined) throw usageError('VKEY_REQUIRED', 'no verifier key: pass --vkey (there is no agentauth install here to take it from)');
  const key = parseVkey(text);
  if (!key) throw usageError('BAD_VKEY', `the config's log vkey is not a C2SP Ed25519 verifier key: ${text}`);
  return key;
}

/** `--vkey` is the key itself or a file holding it. */
function readVkeyFlag(flag: string): { text: string; key: LogVerifierKey } {
  const text = existsSync(flag) ? readFileSync(flag, 'utf8').trim() : flag;
  const key = parseVkey(text);
  if (!key) throw usageError('BAD_VKEY', `--vkey is not a C2SP Ed25519 verifier key (origin+keyid+base64) nor a file holding one: ${flag}`);
  return { text, key };
}

export interface CheckpointFlags extends LogFlag, KeystoreFlags {
  out?: string;
}

export async function checkpointCommand(ctx: Context, flags: CheckpointFlags): Promise<CommandResult> {
  const config = loadConfig(ctx);
  const file = flags.log ?? ctx.paths.auditLog;
  const keystore = await openKeystore(ctx, config, flags);
  const origin = config.log.origin;
  const signer = await loadLogSigner(await requireEntry(keystore, entryName.logKey), origin);
  const result = await appendEvents(file, [], { origin, vkey: config.log.vkey, recoverActor: ctx.actor, signer: () => signer, forceCheckpoint: true });
  let checkpoint = result.checkpoint;
  let fresh = true;
  if (!checkpoint) {
    // Nothing new since the last checkpoint: that one is the head.
    fresh = false;
    const last = readTailLines(file, 1)[0];
    const parsed = last ? (JSON.parse(last) as { kind?: string; size?: number; root?: string; note?: string }) : null;
    if (!parsed || parsed.kind !== 'checkpoint' || typeof parsed.note !== 'string') throw notFoundError('NO_CHECKPOINT', 'the log has no events to checkpoint');
    checkpoint = { size: parsed.size as number, root: parsed.root as string, note: parsed.note };
  }
  if (flags.out) writePrivateFileAtomic(flags.out, checkpoint.note);
  const data = { origin, size: checkpoint.size, root: checkpoint.root, note: checkpoint.note, created: fresh, ...(flags.out ? { out: flags.out } : {}) };
  return { data, render: (style) => renderCheckpoint(data, style) };
}

export async function vkeyCommand(ctx: Context): Promise<CommandResult> {
  const config = loadConfig(ctx);
  return { data: { origin: config.log.origin, vkey: config.log.vkey }, render: () => config.log.vkey };
}

export interface TailFlags extends LogFlag {
  lines?: string;
  follow?: boolean;
  json?: boolean;
}

export async function tailCommand(ctx: Context, flags: TailFlags): Promise<CommandResult> {
  const file = flags.log ?? ctx.paths.auditLog;
  requireLogFile(file);
  const count = integerFlag(flags.lines ?? '10', '-n') as number;
  const lines = readTailLines(file, count);
  const json = flags.json === true;
  if (!flags.follow) {
    return {
      data: { file, lines: lines.map((line) => safeParse(line)) },
      render: (style) => lines.map((line) => renderTailLine(line, style)).join('\n'),
    };
  }
  // --follow: print what exists, then new complete lines as they are appended, until interrupted.
  const print = (line: string) => ctx.io.stdout.write(`${json ? line : renderTailLine(line, ctx.style)}\n`);
  lines.forEach(print);
  let position = statSync(file).size;
  let carry = '';
  await new Promise<void>((resolve) => {
    const poll = () => {
      // The reader went away (`| head`): a normal end.
      if ((ctx.io.stdout as { destroyed?: boolean }).destroyed) {
        stop();
        return;
      }
      const fd = openSync(file, 'r');
      try {
        const size = fstatSync(fd).size;
        if (size < position) position = 0; // replaced or truncated: start over
        if (size > position) {
          const buf = Buffer.alloc(size - position);
          readSync(fd, buf, 0, buf.length, position);
          position = size;
          const text = carry + buf.toString('utf8');
          const parts = text.split('\n');
          carry = parts.pop() ?? '';
          parts.forEach(print);
        }
      } finally {
        closeSync(fd);
      }
    };
    watchFile(file, { interval: 250 }, poll);
    const stop = () => {
      unwatchFile(file, poll);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return { data: { file, following: false } };
}

function safeParse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return { unparsable: line };
  }
}
