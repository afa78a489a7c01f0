// `agentauth audit …`: verify, replay, trust, prove, verify-proof, checkpoint, rotate, vkey, tail.
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync, watchFile, unwatchFile } from 'node:fs';
import { readConfig } from '../core/config.js';
import { notFoundError, usageError } from '../core/errors.js';
import { readUserFile } from '../core/user-file.js';
import { writePrivateFileAtomic } from '../core/fs-safe.js';
import { requireEntry, entryName } from '../core/keystore/index.js';
import { loadLogSigner, parseVkey, type LogVerifierKey } from '../core/audit/log-key.js';
import { appendEvents } from '../core/audit/writer.js';
import { readTailLines } from '../core/audit/tail.js';
import { isSealedSegmentName, listLogsIn, listSealedSegments, readSegmentHead } from '../core/audit/segments.js';
import type { VerifyReport } from '../core/audit/verify.js';
import type { ChainReport, ChainOptions } from '../core/audit/verify-chain.js';
import type { ReplayEvent, ReplayFilters } from '../core/audit/replay.js';
import type { Context, KeystoreFlags } from './context.js';
import { auditWriteOptions } from './audit-events.js';
import { loadConfig, openKeystore } from './state.js';
import type { CommandResult } from './result.js';
import { SCHEMA_VERSION } from './result.js';
import { isOutputClosed } from '../ui/closed-output.js';
import { startProgress } from '../ui/progress.js';
import { renderChain, renderCheckpoint, renderProofCheck, renderReplay, renderReplayEvent, renderRotation, renderTailLine, renderTrust, renderVerify, type TimeFormat } from '../ui/render-audit.js';

interface LogFlag {
  log?: string;
}

export interface VerifyFlags extends LogFlag {
  vkey?: string;
  trusted?: string;
  strict?: boolean;
  threads?: string;
}

/** The files a command reads, oldest segment first, and whether they are the segments of one rotated log. */
interface LogInputs {
  files: string[];
  /** Several segments: reported one line each. */
  chain: boolean;
  /** Named by the user (not this install's own log). */
  explicit: boolean;
}

/**
 * What to read: the files and folders named (a folder holds `*.jsonl` and
 * `*.jsonl.gz` segments), else the log (--log, or this install's) with the
 * segments sealed beside it. One file named alone is read alone.
 */
function resolveInputs(ctx: Context, args: readonly string[], flags: LogFlag): LogInputs {
  if (args.length === 0) {
    const live = flags.log ?? ctx.paths.auditLog;
    const sealed = isSealedSegmentName(live) ? [] : listSealedSegments(live);
    if (sealed.length === 0) requireLogFile(live);
    const files = existsSync(live) ? [...sealed, live] : sealed;
    return { files, chain: files.length > 1, explicit: flags.log !== undefined };
  }
  const files: string[] = [];
  let folder = false;
  for (const arg of args) {
    requireLogFile(arg);
    if (statSync(arg).isDirectory()) {
      const found = listLogsIn(arg);
      if (found.length === 0) throw notFoundError('NO_AUDIT_LOG', `there is no audit log (*.jsonl, *.jsonl.gz) in ${arg}`);
      files.push(...found);
      folder = true;
    } else {
      files.push(arg);
    }
  }
  return { files, chain: folder || files.length > 1, explicit: true };
}

function requireLogFile(file: string): void {
  if (!existsSync(file)) {
    throw notFoundError('NO_AUDIT_LOG', `there is no audit log at ${file}`, { hint: 'run agentauth init, or name the log: agentauth audit verify FILE|DIR (or --log FILE, AGENTAUTH_AUDIT_LOG)' });
  }
}

async function firstLineOrigin(file: string): Promise<string | null> {
  const { readFirstLine } = await import('../core/audit/verify-chain.js');
  return readSegmentHead(await readFirstLine(file))?.origin ?? null;
}

/**
 * The vkey to trust: --vkey, else this install's (config) for its own log or
 * for a log of the same origin. Else none: the verifier falls back to the
 * log's own hint and says so (VKEY_FROM_LOG).
 */
async function chooseVkey(ctx: Context, inputs: LogInputs, flag: string | undefined): Promise<string | undefined> {
  if (flag !== undefined) return readVkeyFlag(flag).text;
  const config = readConfig(ctx.paths);
  if (!config?.log?.vkey) return undefined;
  const last = inputs.files.at(-1);
  if (!inputs.explicit || (last !== undefined && (await firstLineOrigin(last)) === config.log.origin)) return config.log.vkey;
  return undefined;
}

function readTrusted(flags: VerifyFlags): string | undefined {
  if (flags.trusted === undefined) return undefined;
  return readUserFile(flags.trusted, '--trusted').toString('utf8');
}

/** The verification options every reading command shares: key, trusted checkpoint, and a progress line on a terminal. */
async function readOptions(ctx: Context, inputs: LogInputs, flags: VerifyFlags): Promise<{ options: ChainOptions; done: () => void }> {
  const vkey = await chooseVkey(ctx, inputs, flags.vkey);
  const trusted = readTrusted(flags);
  const options: ChainOptions = { ...(vkey !== undefined ? { vkey } : {}), ...(trusted !== undefined ? { trusted } : {}) };
  const total = inputs.files.reduce((sum, file) => sum + statSync(file).size, 0);
  const progress = startProgress(ctx.stderr, 'verifying the audit log', total);
  if (progress) options.onChainProgress = (done) => progress.update(done);
  return { options, done: () => progress?.end() };
}

function verifyOutcome(chain: ChainReport, strict: boolean): 'ok' | 'checkFailed' {
  if (!chain.ok) return 'checkFailed';
  if (strict && chain.segments.some((s) => s.report.warnings.length > 0)) return 'checkFailed';
  return 'ok';
}

/** Warnings a human must see even when stdout goes to a file. */
function warnOnStderr(ctx: Context, chain: ChainReport): void {
  for (const s of chain.segments) {
    for (const warning of s.report.warnings) {
      if (warning.code === 'VKEY_FROM_LOG' || warning.code === 'TORN_TAIL') ctx.warn(`${warning.code}${chain.segments.length > 1 ? ` (${s.file})` : ''}: ${warning.message}`);
    }
  }
}

export async function verifyCommand(ctx: Context, args: readonly string[], flags: VerifyFlags): Promise<CommandResult> {
  const inputs = resolveInputs(ctx, args, flags);
  const threads = flags.threads === undefined ? undefined : Number(flags.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0 && threads <= 16)) throw usageError('BAD_THREADS', '--threads must be an integer from 0 to 16');
  const { options, done } = await readOptions(ctx, inputs, flags);
  if (threads !== undefined) options.threads = threads;
  const { verifySegments } = await import('../core/audit/verify-chain.js');
  let chain: ChainReport;
  try {
    chain = await verifySegments(inputs.files, options);
  } finally {
    done();
  }
  const strict = flags.strict === true;
  warnOnStderr(ctx, chain);
  const outcome = verifyOutcome(chain, strict);
  const ok = outcome === 'ok';
  if (!inputs.chain) {
    // One file: the report as audit-log.md describes it.
    const report = chain.segments[0]!.report;
    const error = report.error ?? (chain.error ? { ...chain.error, file: undefined } : null);
    const segment = chain.segments[0]!;
    const continues = segment.previous ? { segment: segment.segment, previous: segment.previous } : null;
    return {
      data: { ...report, error, verified: chain.ok, ok, strict, ...(continues ? { segment: continues.segment, previous: continues.previous } : {}) },
      render: (style) => renderVerify({ ...report, error: error as VerifyReport['error'] }, strict, ok, style, continues),
      outcome,
    };
  }
  return {
    data: {
      ok,
      verified: chain.ok,
      strict,
      events: chain.events,
      startsAfter: chain.startsAfter,
      error: chain.error,
      trusted: chain.trusted,
      segments: chain.segments.map((s) => ({ ...s.report, segment: s.segment, previous: s.previous })),
    },
    render: (style) => renderChain(chain, strict, ok, style),
    outcome,
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
  localTime?: boolean;
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

export async function replayCommand(ctx: Context, args: readonly string[], flags: ReplayFlags): Promise<CommandResult> {
  const filters: ReplayFilters = {};
  if (flags.agent !== undefined) filters.agent = flags.agent;
  if (flags.kind !== undefined) filters.kind = flags.kind;
  if (flags.since !== undefined) filters.since = parseTime(flags.since, '--since');
  if (flags.until !== undefined) filters.until = parseTime(flags.until, '--until');
  if (flags.host !== undefined) filters.host = flags.host;
  if (flags.jti !== undefined) filters.jti = flags.jti;
  const inputs = resolveInputs(ctx, args, flags);
  const time: TimeFormat = { local: flags.localTime === true };
  const json = flags.json === true;
  const { options, done } = await readOptions(ctx, inputs, flags);
  // Events are held until the whole log has verified: nothing from a tampered log is printed as fact.
  const events: ReplayEvent[] = [];
  if (json) ctx.stdout.write(`${JSON.stringify({ schemaVersion: SCHEMA_VERSION, type: 'header', files: inputs.files, file: inputs.files.at(-1), filters })}\n`);
  const { replayLog } = await import('../core/audit/replay.js');
  let result;
  try {
    result = await replayLog(inputs.files, options, filters, (event) => events.push(event));
  } finally {
    done();
  }
  const { chain } = result;
  warnOnStderr(ctx, chain);
  const outcome = verifyOutcome(chain, flags.strict === true);
  if (chain.ok) {
    if (json) {
      for (const event of events) ctx.stdout.write(`${JSON.stringify({ type: 'event', ...event })}\n`);
      for (const violation of result.violations) ctx.stdout.write(`${JSON.stringify({ type: 'violation', ...violation })}\n`);
    }
  } else {
    ctx.warn(`the log did not verify (${chain.error?.code ?? '?'}): nothing is replayed`);
  }
  if (chain.ok && result.violations.length > 0) ctx.warn(`${result.violations.length} invariant violation(s) found`);
  return {
    data: {
      type: 'summary',
      ok: outcome === 'ok',
      verified: chain.ok,
      error: chain.error,
      warnings: chain.segments.flatMap((s) => s.report.warnings),
      events: chain.events,
      segments: chain.segments.length,
      matched: result.matched,
      agents: chain.ok ? result.agents : [],
      violations: chain.ok ? result.violations : [],
    },
    render: (style) => {
      if (!chain.ok) return inputs.chain ? renderChain(chain, false, false, style) : renderVerify(chain.segments[0]!.report, false, false, style);
      return [...events.map((e) => renderReplayEvent(e, style, time)), renderReplay(result, style)].join('\n');
    },
    outcome,
  };
}

export interface TrustFlags extends VerifyFlags {
  at?: string;
  localTime?: boolean;
}

/** `audit trust [AGENT] [FILE|DIR…]`: the score of one agent, or of every agent the log names, at its last checkpoint (or --at ROOT). */
export async function trustCommand(ctx: Context, agent: string | undefined, args: readonly string[], flags: TrustFlags): Promise<CommandResult> {
  if (flags.at !== undefined && !/^[0-9a-f]{64}$/.test(flags.at)) throw usageError('BAD_ROOT', `--at takes a checkpoint's root: 64 lower-case hex digits (the "root" of an agentauth_trust claim): ${flags.at}`);
  // `audit trust DIR` names no agent: a path is never an agent name.
  if (agent !== undefined && (agent.includes('/') || /\.jsonl(\.gz)?$/.test(agent))) {
    args = [agent, ...args];
    agent = undefined;
  }
  const inputs = resolveInputs(ctx, args, flags);
  const { options, done } = await readOptions(ctx, inputs, flags);
  const { tallyTrustAt } = await import('../core/audit/trust-log.js');
  let counted;
  try {
    counted = await tallyTrustAt(inputs.files, options, flags.at);
  } finally {
    done();
  }
  warnOnStderr(ctx, counted.chain);
  const names = agent !== undefined ? [agent] : counted.tally.agents();
  const scores = names.map((name) => counted.tally.score(name));
  if (agent !== undefined && scores[0]!.added === null && scores[0]!.components.successes === 0 && Object.keys(scores[0]!.components.denied).length === 0) {
    throw notFoundError('NO_SUCH_AGENT', `the audit log holds nothing about an agent named "${agent}" up to that checkpoint`, { hint: 'agentauth audit trust (no name) scores every agent the log names' });
  }
  const time: TimeFormat = { local: flags.localTime === true };
  return {
    data: { log: counted.log, uncounted: counted.uncounted, agents: scores },
    render: (style) => renderTrust(scores, counted.log, counted.uncounted, style, time),
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
  const log = { file: flags.log ?? ctx.paths.auditLog };
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
    text = await readAllStdin(ctx.stdin);
  } else {
    text = readUserFile(file, 'audit verify-proof').toString('utf8');
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
  return { data: { ...check }, render: (style) => renderProofCheck(check, style), outcome: check.ok ? 'ok' : 'checkFailed' };
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
  const text = existsSync(flag) ? readUserFile(flag, '--vkey').toString('utf8').trim() : flag;
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
  // No automatic rotation here: the checkpoint this prints is the live log's head.
  const { rotateBytes: _rotateBytes, ...options } = auditWriteOptions(ctx, config);
  const result = await appendEvents(file, [], { ...options, signer: () => signer, forceCheckpoint: true });
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

export type RotateFlags = LogFlag & KeystoreFlags;

/** `audit rotate`: seal the live log with a checkpoint and start the next segment (audit-log.md, "Rotation and retention"). */
export async function rotateCommand(ctx: Context, flags: RotateFlags): Promise<CommandResult> {
  const config = loadConfig(ctx);
  const file = flags.log ?? ctx.paths.auditLog;
  requireLogFile(file);
  const keystore = await openKeystore(ctx, config, flags);
  const result = await appendEvents(file, [], { ...auditWriteOptions(ctx, config, keystore), rotate: true });
  const rotated = result.rotated!;
  const data = { live: file, sealed: rotated.sealed, segment: rotated.segment, size: rotated.size, root: rotated.root };
  return { data, render: (style) => renderRotation(data, style) };
}

export async function vkeyCommand(ctx: Context): Promise<CommandResult> {
  const config = loadConfig(ctx);
  return { data: { origin: config.log.origin, vkey: config.log.vkey }, render: () => config.log.vkey };
}

export interface TailFlags extends LogFlag {
  lines?: string;
  follow?: boolean;
  json?: boolean;
  localTime?: boolean;
}

export async function tailCommand(ctx: Context, flags: TailFlags): Promise<CommandResult> {
  const file = flags.log ?? ctx.paths.auditLog;
  requireLogFile(file);
  const count = integerFlag(flags.lines ?? '10', '-n') as number;
  const lines = readTailLines(file, count);
  const json = flags.json === true;
  const time: TimeFormat = { local: flags.localTime === true };
  if (!flags.follow) {
    return {
      data: { file, lines: lines.map((line) => safeParse(line)) },
      render: (style) => lines.map((line) => renderTailLine(line, style, time)).join('\n'),
    };
  }
  // --follow: print what exists, then new complete lines as they are appended, until interrupted.
  const print = (line: string) => ctx.stdout.write(`${json ? line : renderTailLine(line, ctx.style, time)}\n`);
  lines.forEach(print);
  let position = statSync(file).size;
  let carry = '';
  await new Promise<void>((resolve) => {
    const poll = () => {
      // The reader went away (`| head`): a normal end.
      if (isOutputClosed(ctx.stdout)) {
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
          // A write to a reader that went away fails after this tick: end then, not at the next event.
          setImmediate(() => {
            if (isOutputClosed(ctx.stdout)) stop();
          });
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
