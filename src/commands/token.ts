// `token mint | verify | inspect`.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readConfig } from '../core/config.js';
import { parseDuration } from '../core/duration.js';
import { notFoundError, usageError, usageErrorFromVerify } from '../core/errors.js';
import { readUserFile } from '../core/user-file.js';
import { readPrivateFile, writePrivateFileAtomic } from '../core/fs-safe.js';
import { buildJwks, loadActiveSigner } from '../core/issuer.js';
import type { JsonWebKeySet, KeySource } from '../core/key-source.js';
import type { Keystore } from '../core/keystore/index.js';
import { mintAndRecord, type MintAnswer, type MintCall } from '../core/mint.js';
import { callServe, mintRequest, readMintAnswer } from '../core/serve/client.js';
import { resolveSocketPath } from '../core/serve/socket-path.js';
import { decodeUnverified } from '../core/tokens.js';
import { VerifyError } from '../core/verify-error.js';
import { renderVerified } from '../ui/render-core.js';
import { recordEvents } from './audit-events.js';
import { readAllStdin, type Context, type KeystoreFlags } from './context.js';
import type { CommandResult } from './result.js';
import { loadConfig, openKeystore } from './state.js';

interface MintFlags extends KeystoreFlags {
  aud?: string;
  scope?: string[];
  ttl?: string;
  onBehalfOf?: string;
  dpopKey?: string;
  dpopJkt?: string;
  direct?: boolean;
  withTrust?: boolean;
}

export async function mintTokenCommand(ctx: Context, agentName: string, flags: MintFlags): Promise<CommandResult> {
  if (flags.dpopKey !== undefined && flags.dpopJkt !== undefined) throw usageError('DPOP_KEY_AND_JKT', 'give --dpop-key or --dpop-jkt, not both');
  const call: MintCall = {
    agent: agentName,
    ...(flags.aud !== undefined ? { aud: flags.aud } : {}),
    ...(flags.scope ? { scopes: flags.scope } : {}),
    ...(flags.ttl !== undefined ? { ttl: flags.ttl } : {}),
    ...(flags.onBehalfOf !== undefined ? { onBehalfOf: flags.onBehalfOf } : {}),
    ...(flags.dpopKey !== undefined ? { dpopJkt: await readDpopThumbprint(ctx, flags.dpopKey) } : {}),
    ...(flags.dpopJkt !== undefined ? { dpopJkt: flags.dpopJkt } : {}),
  };
  // The trust claim needs a checkpoint signed now and the log read back: done here, not by serve.
  const viaServe = flags.direct || flags.withTrust ? null : await mintThroughServe(ctx, call);
  if (viaServe) return mintResult(viaServe);

  const config = loadConfig(ctx);
  let keystore: Keystore | undefined;
  const { answer } = await mintAndRecord(call, {
    config,
    actor: ctx.actor,
    signer: async () => loadActiveSigner(config, (keystore = await openKeystore(ctx, config, flags))),
    record: async (events) => {
      await recordEvents(ctx, config, events, keystore);
    },
    // The score at a checkpoint signed now (or the head, when nothing is new): docs/trust.md.
    ...(flags.withTrust ? { trustClaim: async (agent: string) => (await import('./trust-claim.js')).computeTrustClaim(ctx, config, keystore!, agent) } : {}),
  });
  return mintResult(answer);
}

function mintResult(answer: MintAnswer): CommandResult {
  return { data: { ...answer }, render: () => answer.token };
}

/** The answer of a running serve, or null when none of ours listens (then the caller mints itself). */
async function mintThroughServe(ctx: Context, call: MintCall): Promise<MintAnswer | null> {
  const uid = ctx.uid ?? null;
  const path = resolveSocketPath(ctx.env);
  const result = await callServe(path, mintRequest(call), { uid });
  if (!result.answered) {
    if (result.foreignOwner !== undefined) ctx.warn(`ignoring the serve socket ${path}: it belongs to uid ${result.foreignOwner}, not to you; minting directly`);
    return null;
  }
  return readMintAnswer(result.answer);
}

async function readDpopThumbprint(ctx: Context, file: string): Promise<string> {
  const { readDpopKeyFile } = await import('./dpop.js');
  return (await readDpopKeyFile(file, ctx.paths.owner)).jkt;
}

interface VerifyFlags {
  jwks?: string;
  iss?: string;
  aud?: string;
  scope?: string[];
  clockSkew: string;
  dpopProof?: string;
  method?: string;
  url?: string;
}

async function readTokenArgument(ctx: Context, value: string | undefined): Promise<string> {
  if (value !== undefined && value !== '-') return value.trim();
  if (ctx.interactive) throw usageError('NO_TOKEN', 'no token given', { hint: 'pass it as an argument, or pipe it in: … | agentauth token verify -' });
  const text = (await readAllStdin(ctx.stdin)).trim();
  if (!text) throw usageError('NO_TOKEN', 'no token on stdin');
  return text;
}

export async function verifyTokenCommand(ctx: Context, value: string | undefined, flags: VerifyFlags): Promise<CommandResult> {
  const token = await readTokenArgument(ctx, value);
  const clockToleranceSeconds = parseDuration(flags.clockSkew, '--clock-skew');
  const dpop = readDpopFlags(flags);
  const { keys, issuer } = await resolveKeys(ctx, flags);
  const { createTokenVerifier } = await import('../core/token-verify.js');
  const { createReplayCache } = await import('../core/dpop.js');
  const verify = createTokenVerifier({
    keys,
    ...(issuer !== undefined ? { issuer } : {}),
    ...(flags.aud !== undefined ? { audience: flags.aud } : {}),
    ...(flags.scope ? { scopes: flags.scope } : {}),
    clockToleranceSeconds,
    // One process checks one proof: the replay cache cannot span calls (a service's verifier keeps one).
    dpop: { replay: createReplayCache() },
  });
  try {
    const { header, claims } = await verify(token, dpop ? { dpop } : {});
    const data = { valid: true, header, claims };
    return { data, render: (style) => renderVerified({ claims, kid: String(header['kid']) }, style) };
  } catch (error) {
    if (!(error instanceof VerifyError)) throw error;
    ctx.stderr.write(`${ctx.stderrStyle.red('invalid token')}: ${error.code}: ${error.message}\n`);
    return {
      data: { valid: false, error: { code: error.code, message: error.message, ...(error.claim ? { claim: error.claim } : {}) } },
      outcome: 'checkFailed',
    };
  }
}

function readDpopFlags(flags: VerifyFlags): { proof: string; method: string; url: string } | null {
  const given = [flags.dpopProof, flags.method, flags.url].filter((value) => value !== undefined).length;
  if (given === 0) return null;
  if (given !== 3) throw usageError('DPOP_FLAGS', '--dpop-proof, --method and --url go together', { hint: 'the proof is checked against the request it came with' });
  return { proof: flags.dpopProof!.trim(), method: flags.method!, url: flags.url! };
}

async function resolveKeys(ctx: Context, flags: VerifyFlags): Promise<{ keys: JsonWebKeySet | KeySource; issuer: string | undefined }> {
  if (!flags.jwks) {
    const config = readConfig(ctx.paths);
    if (!config) {
      throw notFoundError('NOT_INITIALISED', 'no local install to verify against', { hint: 'pass --jwks FILE|URL, or run agentauth init' });
    }
    return { keys: buildJwks(config, Math.floor(Date.now() / 1000)), issuer: flags.iss ?? config.issuer };
  }
  if (/^https?:\/\//i.test(flags.jwks)) {
    const { createRemoteKeySource, isPlainHttpToRemoteHost } = await import('../core/jwks-remote.js');
    let url: URL;
    try {
      url = new URL(flags.jwks);
    } catch {
      throw usageError('BAD_JWKS', `--jwks ${JSON.stringify(flags.jwks)} is not a valid URL`);
    }
    if (isPlainHttpToRemoteHost(url.toString())) {
      ctx.warn(`fetching the JWKS over plain http:// from ${url.host}: anyone on the network path could swap the keys; prefer https:// (or a loopback address)`);
    }
    return { keys: createRemoteKeySource({ url: url.toString(), store: createJwksFileStore(ctx, url.toString()) }), issuer: flags.iss };
  }
  const text = readUserFile(flags.jwks, '--jwks').toString('utf8');
  let jwks: JsonWebKeySet;
  try {
    jwks = JSON.parse(text) as JsonWebKeySet;
  } catch (error) {
    throw usageError('BAD_JWKS', `${flags.jwks} is not JSON (${(error as Error).message})`);
  }
  if (!jwks || !Array.isArray(jwks.keys)) throw usageError('BAD_JWKS', `${flags.jwks} is not a JWKS (expected {"keys":[…]})`);
  return { keys: jwks, issuer: flags.iss };
}

/** Each CLI call is a new process: a fetched JWKS is kept on disk between them, as its Cache-Control allows. */
function createJwksFileStore(ctx: Context, url: string) {
  const file = join(ctx.paths.cacheDir, `jwks-${createHash('sha256').update(url).digest('hex').slice(0, 32)}.json`);
  return {
    load: () => {
      const stored = readPrivateFile(file, ctx.paths.owner);
      return stored ? JSON.parse(stored.toString('utf8')) : null;
    },
    save: (entry: unknown) => writePrivateFileAtomic(file, JSON.stringify(entry)),
  };
}

export async function inspectTokenCommand(ctx: Context, value: string | undefined): Promise<CommandResult> {
  const token = await readTokenArgument(ctx, value);
  ctx.warn('decoded WITHOUT verifying the signature or any claim; use `agentauth token verify` to check it');
  let decoded;
  try {
    decoded = decodeUnverified(token);
  } catch (error) {
    if (error instanceof VerifyError) throw usageErrorFromVerify(error);
    throw error;
  }
  const data = { verified: false, header: decoded.header, claims: decoded.claims };
  return { data, render: () => JSON.stringify({ header: decoded.header, claims: decoded.claims }, null, 2) };
}
