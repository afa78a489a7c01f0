// `agentauth audit verify-proof [FILE]`: checks a proof from audit prove.
import { readConfig } from '../../core/config.js';
import { usageError } from '../../core/errors.js';
import { readUserFile } from '../../core/user-file.js';
import { parseVkey, type LogVerifierKey } from '../../core/audit/log-key.js';
import type { Context } from '../context.js';
import type { CommandResult } from '../result.js';
import { renderProofCheck } from '../../ui/render-audit.js';
import { readVkeyFlag } from './check-options.js';

export interface VerifyProofFlags {
  vkey?: string;
}

export async function verifyProofCommand(ctx: Context, file: string | undefined, flags: VerifyProofFlags): Promise<CommandResult> {
  let text: string;
  if (file === undefined || file === '-') {
    const { readAllStdin } = await import('../context.js');
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
  const { verifyProof } = await import('../../core/audit/prove.js');
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
