// `key show | rotate | retire KID | jwks`.
import { updateConfig } from '../core/config.js';
import { formatDuration } from '../core/duration.js';
import { applyRotation, buildJwks, generateIssuerKey, JWKS_CACHE_AGE_SECONDS, retireKey } from '../core/issuer.js';
import { entryName } from '../core/keystore/index.js';
import { renderKeys } from '../ui/render-core.js';
import { recordEvents } from './audit-events.js';
import type { Context, KeystoreFlags } from './context.js';
import type { CommandResult } from './result.js';
import { loadConfig, openKeystore } from './state.js';

export async function showKeysCommand(ctx: Context): Promise<CommandResult> {
  const config = loadConfig(ctx);
  return { data: { keys: config.keys }, render: (style) => renderKeys(config.keys, style) };
}

export async function jwksCommand(ctx: Context): Promise<CommandResult> {
  const jwks = buildJwks(loadConfig(ctx), Math.floor(Date.now() / 1000));
  // The JWKS is already a document (RFC 7517); printed as is, without schemaVersion.
  const text = JSON.stringify(jwks, null, 2);
  return { data: jwks, render: () => text };
}

export async function rotateKeyCommand(ctx: Context, opts: KeystoreFlags): Promise<CommandResult> {
  const now = new Date();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const keystore = await openKeystore(ctx, loadConfig(ctx), opts);
  const next = await generateIssuerKey(now);
  // Store the private half before the config names it: a crash in between
  // leaves an unused keystore entry, never a config pointing at nothing.
  await keystore.setMany({ [entryName.issuer(next.record.kid)]: next.privateJwk });
  const { config, result } = await updateConfig(ctx.paths, (config) => {
    const rotation = applyRotation(config, next.record, nowSeconds);
    config.keystoreEntries = [...config.keystoreEntries.filter((name) => !rotation.retiredKids.some((kid) => name === entryName.issuer(kid))), entryName.issuer(next.record.kid)];
    return rotation;
  });
  if (result.retiredKids.length) await keystore.deleteMany(result.retiredKids.map((kid) => entryName.issuer(kid)));
  await recordEvents(
    ctx,
    config,
    [{ kind: 'key.rotate', actor: ctx.actor, data: { kid: next.record.kid, previous: result.previousKid, expired: result.retiredKids } }],
    keystore,
  );
  const previous = config.keys.find((key) => key.kid === result.previousKid);
  const data = { kid: next.record.kid, previous: result.previousKid, previousRetireAfter: previous?.retireAfter ?? null, removed: result.retiredKids };
  return {
    data,
    render: (style) =>
      `${style.green('New active key')} ${next.record.kid}` +
      (previous?.retireAfter ? `\nPrevious key ${previous.kid} stays in the JWKS until ${new Date(previous.retireAfter * 1000).toISOString()}` : ''),
  };
}

export async function retireKeyCommand(ctx: Context, kid: string, opts: KeystoreFlags): Promise<CommandResult> {
  const { config } = await updateConfig(ctx.paths, (config) => {
    retireKey(config, kid);
    config.keystoreEntries = config.keystoreEntries.filter((name) => name !== entryName.issuer(kid));
  });
  const keystore = await openKeystore(ctx, config, opts);
  await keystore.deleteMany([entryName.issuer(kid)]);
  await recordEvents(ctx, config, [{ kind: 'key.retire', actor: ctx.actor, data: { kid } }], keystore);
  const cache = formatDuration(JWKS_CACHE_AGE_SECONDS);
  return {
    data: { retired: kid, jwksCacheSeconds: JWKS_CACHE_AGE_SECONDS },
    render: (style) =>
      `${style.green('Retired')} ${kid}: tokens it signed no longer verify here (token verify, run)\n` +
      `  A verifier that cached the JWKS keeps accepting them until its copy expires: up to ${cache} (the JWKS cache age) for one that follows it; ask others to refetch`,
  };
}
