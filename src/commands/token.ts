// `token mint | verify | inspect`.
import { readFileSync } from 'node:fs';
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import { readConfig } from '../core/config.js';
import { findAgent } from '../core/agents.js';
import { parseDuration } from '../core/duration.js';
import { notFoundError, usageError } from '../core/errors.js';
import { buildJwks, loadActiveSigner } from '../core/issuer.js';
import { createTokenVerifier, decodeUnverified, mintToken, TokenInvalidError } from '../core/tokens.js';
import { renderVerified } from '../ui/render-core.js';
import { recordEvents } from './audit-events.js';
import { readAllStdin, type Context, type KeystoreFlags } from './context.js';
import type { CommandResult } from './result.js';
import { loadConfig, openKeystore } from './state.js';

interface MintFlags extends KeystoreFlags {
  aud: string;
  scope?: string[];
  ttl?: string;
  onBehalfOf?: string;
  withTrust?: boolean;
}

export async function mintTokenCommand(ctx: Context, agentName: string, flags: MintFlags): Promise<CommandResult> {
  const config = loadConfig(ctx);
  const agent = findAgent(config, agentName);
  if (flags.onBehalfOf !== undefined && !/^[A-Za-z0-9._@+-]{1,128}$/.test(flags.onBehalfOf)) {
    throw usageError('BAD_USER', `invalid --on-behalf-of ${JSON.stringify(flags.onBehalfOf)}: letters, digits and . _ @ + - only`);
  }
  const request = {
    agent,
    issuer: config.issuer,
    aud: flags.aud,
    ...(flags.scope ? { scopes: flags.scope } : {}),
    ...(flags.ttl ? { ttlSeconds: parseDuration(flags.ttl, '--ttl') } : {}),
    ...(flags.onBehalfOf ? { onBehalfOf: flags.onBehalfOf } : {}),
  };
  const keystore = await openKeystore(ctx, config, flags);
  // The score at a checkpoint signed now (or the head, when nothing is new): docs/trust.md.
  const trust = flags.withTrust ? await (await import('./trust-claim.js')).computeTrustClaim(ctx, config, keystore, agent.name) : undefined;
  const minted = await mintToken({ ...request, ...(trust ? { trust } : {}) }, await loadActiveSigner(config, keystore));
  // The event is durable before the token is printed: no token exists that the log does not know.
  await recordEvents(
    ctx,
    config,
    [
      {
        kind: 'token.mint',
        actor: ctx.actor,
        data: {
          agent: agent.name,
          aud: minted.aud,
          scope: minted.scope.join(' '),
          jti: minted.jti,
          kid: minted.kid,
          exp: minted.exp,
          ...(flags.onBehalfOf ? { sub: minted.sub } : {}),
          ...(trust ? { trust: { root: trust.log.root, score: trust.score, size: trust.log.size } } : {}),
        },
      },
    ],
    keystore,
  );
  const data = { token: minted.token, jti: minted.jti, kid: minted.kid, exp: minted.exp, scope: minted.scope.join(' '), aud: minted.aud, ...(trust ? { trust } : {}) };
  return { data, render: () => minted.token };
}

interface VerifyFlags {
  jwks?: string;
  iss?: string;
  aud?: string;
  scope?: string[];
  clockSkew: string;
}

async function readTokenArgument(ctx: Context, value: string | undefined): Promise<string> {
  if (value !== undefined && value !== '-') return value.trim();
  if (ctx.interactive) throw usageError('NO_TOKEN', 'no token given', { hint: 'pass it as an argument, or pipe it in: … | agentauth token verify -' });
  const text = (await readAllStdin(ctx.io.stdin)).trim();
  if (!text) throw usageError('NO_TOKEN', 'no token on stdin');
  return text;
}

export async function verifyTokenCommand(ctx: Context, value: string | undefined, flags: VerifyFlags): Promise<CommandResult> {
  const token = await readTokenArgument(ctx, value);
  const clockToleranceSeconds = parseDuration(flags.clockSkew, '--clock-skew');
  const { keys, issuer, save } = await resolveKeys(ctx, flags);
  const verify = createTokenVerifier({
    keys,
    ...(issuer !== undefined ? { issuer } : {}),
    ...(flags.aud !== undefined ? { audience: flags.aud } : {}),
    ...(flags.scope ? { scopes: flags.scope } : {}),
    clockToleranceSeconds,
  });
  try {
    const { header, claims } = await verify(token);
    save?.();
    const data = { valid: true, header, claims };
    return { data, render: (style) => renderVerified({ claims, kid: String(header['kid']) }, style) };
  } catch (error) {
    save?.();
    if (!(error instanceof TokenInvalidError)) throw error;
    ctx.io.stderr.write(`${ctx.style.red('invalid token')}: ${error.code}: ${error.message}\n`);
    return {
      data: { valid: false, error: { code: error.code, message: error.message, ...(error.claim ? { claim: error.claim } : {}) } },
      exitCode: error.exitCode,
    };
  }
}

async function resolveKeys(
  ctx: Context,
  flags: VerifyFlags,
): Promise<{ keys: JSONWebKeySet | JWTVerifyGetKey; issuer: string | undefined; save?: () => void }> {
  if (!flags.jwks) {
    const config = readConfig(ctx.paths);
    if (!config) {
      throw notFoundError('NOT_INITIALISED', 'no local install to verify against', { hint: 'pass --jwks FILE|URL, or run agentauth init' });
    }
    return { keys: buildJwks(config, Math.floor(Date.now() / 1000)), issuer: flags.iss ?? config.issuer };
  }
  if (/^https?:\/\//i.test(flags.jwks)) {
    const { openRemoteJwks } = await import('../core/jwks-remote.js');
    const remote = openRemoteJwks(flags.jwks, ctx.paths.cacheDir);
    return { keys: remote.getKey, issuer: flags.iss, save: remote.save };
  }
  let jwks: JSONWebKeySet;
  try {
    jwks = JSON.parse(readFileSync(flags.jwks, 'utf8')) as JSONWebKeySet;
  } catch (error) {
    throw usageError('BAD_JWKS', `cannot read a JWKS from ${flags.jwks} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (!jwks || !Array.isArray(jwks.keys)) throw usageError('BAD_JWKS', `${flags.jwks} is not a JWKS (expected {"keys":[…]})`);
  return { keys: jwks, issuer: flags.iss };
}

export async function inspectTokenCommand(ctx: Context, value: string | undefined): Promise<CommandResult> {
  const token = await readTokenArgument(ctx, value);
  ctx.warn('decoded WITHOUT verifying the signature or any claim; use `agentauth token verify` to check it');
  let decoded;
  try {
    decoded = decodeUnverified(token);
  } catch (error) {
    if (error instanceof TokenInvalidError) throw usageError(error.code, error.message);
    throw error;
  }
  const data = { verified: false, header: decoded.header, claims: decoded.claims };
  return { data, render: () => JSON.stringify({ header: decoded.header, claims: decoded.claims }, null, 2) };
}
