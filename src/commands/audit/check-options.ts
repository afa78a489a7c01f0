// How verify, replay and trust check the log the same way: which vkey to
// trust, the trusted checkpoint, a progress line, and what fails the check.
import { existsSync, statSync } from 'node:fs';
import { readConfig } from '../../core/config.js';
import { usageError } from '../../core/errors.js';
import { readUserFile } from '../../core/user-file.js';
import { parseVkey, type LogVerifierKey } from '../../core/audit/log-key.js';
import { readSegmentHead } from '../../core/audit/segments.js';
import type { ChainReport, ChainOptions } from '../../core/audit/verify-chain.js';
import type { Context } from '../context.js';
import { startProgress } from '../../ui/progress.js';
import type { LogFlag, LogInputs } from './inputs.js';

export interface VerifyFlags extends LogFlag {
  vkey?: string;
  trusted?: string;
  strict?: boolean;
  threads?: string;
}

async function firstLineOrigin(file: string): Promise<string | null> {
  const { readFirstLine } = await import('../../core/audit/verify-chain.js');
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
export async function readOptions(ctx: Context, inputs: LogInputs, flags: VerifyFlags): Promise<{ options: ChainOptions; done: () => void }> {
  const vkey = await chooseVkey(ctx, inputs, flags.vkey);
  const trusted = readTrusted(flags);
  const options: ChainOptions = { ...(vkey !== undefined ? { vkey } : {}), ...(trusted !== undefined ? { trusted } : {}) };
  const total = inputs.files.reduce((sum, file) => sum + statSync(file).size, 0);
  const progress = startProgress(ctx.stderr, 'verifying the audit log', total);
  if (progress) options.onChainProgress = (done) => progress.update(done);
  return { options, done: () => progress?.end() };
}

export function verifyOutcome(chain: ChainReport, strict: boolean): 'ok' | 'checkFailed' {
  if (!chain.ok) return 'checkFailed';
  if (strict && chain.segments.some((s) => s.report.warnings.length > 0)) return 'checkFailed';
  return 'ok';
}

/** Warnings a human must see even when stdout goes to a file. */
export function warnOnStderr(ctx: Context, chain: ChainReport): void {
  for (const s of chain.segments) {
    for (const warning of s.report.warnings) {
      if (warning.code === 'VKEY_FROM_LOG' || warning.code === 'TORN_TAIL') ctx.warn(`${warning.code}${chain.segments.length > 1 ? ` (${s.file})` : ''}: ${warning.message}`);
    }
  }
}

/** `--vkey` is the key itself or a file holding it. */
export function readVkeyFlag(flag: string): { text: string; key: LogVerifierKey } {
  const text = existsSync(flag) ? readUserFile(flag, '--vkey').toString('utf8').trim() : flag;
  const key = parseVkey(text);
  if (!key) throw usageError('BAD_VKEY', `--vkey is not a C2SP Ed25519 verifier key (origin+keyid+base64) nor a file holding one: ${flag}`);
  return { text, key };
}
