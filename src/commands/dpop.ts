// `dpop keygen FILE` and `dpop proof`: DPoP proof keys and per-request proofs
// (RFC 9449) for shell scripts:
//   curl -H "Authorization: DPoP $T" -H "DPoP: $(agentauth dpop proof --key K --method GET --url U --token "$T")" U
import { writeFileSync } from 'node:fs';
import { notFoundError, usageError, usageErrorFromVerify } from '../core/errors.js';
import { dirname, resolve } from 'node:path';
import { ensurePrivateDir, readPrivateFile, type Owner } from '../core/fs-safe.js';
import type { DpopAlgorithm, DpopKey } from '../core/dpop.js';
import { VerifyError } from '../core/verify-error.js';
import type { Context } from './context.js';
import type { CommandResult } from './result.js';

export async function keygenCommand(ctx: Context, file: string, opts: { alg?: string }): Promise<CommandResult> {
  const alg = (opts.alg ?? 'EdDSA') as DpopAlgorithm;
  if (alg !== 'EdDSA' && alg !== 'ES256') throw usageError('BAD_ALG', `unknown --alg ${JSON.stringify(opts.alg)}: use EdDSA (Ed25519, the default) or ES256 (P-256)`);
  const { generateDpopKey } = await import('../core/dpop.js');
  const { privateJwk, jkt } = await generateDpopKey(alg);
  // A missing folder is created private (~/.config/agentauth/ on a fresh machine).
  ensurePrivateDir(dirname(resolve(file)));
  try {
    // 'wx': never replaces a file; 0600 from the first byte.
    writeFileSync(file, `${JSON.stringify(privateJwk)}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw usageError('FILE_EXISTS', `${file} already exists; refusing to overwrite a key`, { hint: 'pick another FILE, or remove the old key first if you really mean to' });
    throw usageError('CANNOT_WRITE', `cannot write ${file} (${code ?? (error as Error).message})`);
  }
  ctx.info(`Wrote a private ${alg} DPoP key to ${file} (mode 0600). Mint bound tokens with: agentauth token mint AGENT --aud A --dpop-key ${file}`);
  return { data: { file, alg, jkt }, render: () => jkt };
}

interface ProofFlags {
  key: string;
  method: string;
  url: string;
  token?: string;
}

export async function proofCommand(ctx: Context, flags: ProofFlags): Promise<CommandResult> {
  const key = await readDpopKeyFile(flags.key, ctx.paths.owner);
  const { createDpopProof } = await import('../core/dpop.js');
  let proof: string;
  try {
    proof = await createDpopProof({ key, method: flags.method, url: flags.url, ...(flags.token !== undefined ? { token: flags.token.trim() } : {}) });
  } catch (error) {
    if (error instanceof VerifyError) throw usageErrorFromVerify(error);
    throw error;
  }
  return { data: { proof, jkt: key.jkt }, render: () => proof };
}

/** A proof key file from `dpop keygen`: private, so it must be 0600 like every private file. */
export async function readDpopKeyFile(file: string, owner: Owner): Promise<DpopKey> {
  const text = readPrivateFile(file, owner);
  if (text === null) throw notFoundError('NO_DPOP_KEY', `no DPoP key file at ${file}`, { hint: `make one with: agentauth dpop keygen ${file}` });
  const { parseDpopKey } = await import('../core/dpop.js');
  try {
    return await parseDpopKey(text.toString('utf8'));
  } catch (error) {
    if (error instanceof VerifyError) throw usageErrorFromVerify(error, `${file}: ${error.message}`);
    throw error;
  }
}
