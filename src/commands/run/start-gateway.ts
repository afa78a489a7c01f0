// `run`, step 1 and 2: the agent and its granted secrets, the session token
// (the child's proxy credential), the audit sink, and the gateway on loopback.
// Values are decrypted here, in the process that runs the gateway, and
// nowhere else.
import { randomBytes } from 'node:crypto';
import { recordKeystoreEntry, updateConfig, type AgentRecord, type Config } from '../../core/config.js';
import { findAgent } from '../../core/agents.js';
import { notFoundError, policyError, usageError } from '../../core/errors.js';
import { entryName, requireEntry, type Keystore } from '../../core/keystore/index.js';
import { buildJwks, loadActiveSigner } from '../../core/issuer.js';
import { createTokenVerifier, mintToken, type MintedToken } from '../../core/tokens.js';
import { buildEffectivePolicy, findSecret, findVariableClash } from '../../core/secrets.js';
import { readRotateBytes } from '../../core/settings.js';
import { decryptValues, obtainVaultKey } from '../../core/vault.js';
import type { AuditSink } from '../../core/gateway/audit-sink.js';
import type { Gateway } from '../../core/gateway/listen.js';
import type { RunSecret } from '../../core/gateway/policy.js';
import type { Session } from '../../core/gateway/session.js';
import type { Context, KeystoreFlags } from '../context.js';
import { loadConfig, openKeystore } from '../state.js';
import { sessionMintEvent, type RunIdentity } from './records.js';

export interface GatewayFlags extends KeystoreFlags {
  agent?: string;
  secret?: string[];
  denyUnlisted?: boolean;
  upstreamCa?: string[];
}

/** Session tokens are short-lived and renewed at half-life (gateway.md, run step 1); never longer than the agent's --max-ttl. */
export const SESSION_TTL_SECONDS = 10 * 60;

/** A run whose gateway is up: everything later steps need, and how to take it down. */
export interface RunningGateway {
  id: RunIdentity;
  config: Config;
  agent: AgentRecord;
  secrets: RunSecret[];
  session: Session<MintedToken>;
  gateway: Gateway;
  audit: AuditSink;
  /** agentauth's local CA certificate, for the child's trust stores. */
  caPem: string;
  /** Undone in reverse order when the run ends or fails. */
  cleanup: (() => void | Promise<void>)[];
}

/** Decision: --agent is required unless exactly one agent exists. */
function chooseAgent(config: Config, name: string | undefined): AgentRecord {
  if (name !== undefined) return findAgent(config, name);
  const agents = Object.values(config.agents);
  if (agents.length === 1) return agents[0]!;
  if (agents.length === 0) throw notFoundError('NO_AGENT', 'no agent exists yet', { hint: 'add one with: agentauth agent add NAME --scope … --secret …' });
  throw usageError('AGENT_REQUIRED', `there are ${agents.length} agents; say which one runs the command`, { hint: `agentauth run --agent NAME -- …  (agents: ${agents.map((agent) => agent.name).join(', ')})` });
}

function chooseSecrets(config: Config, agent: AgentRecord, wanted: string[] | undefined): string[] {
  const granted = new Set(agent.grants.map((grant) => grant.secret));
  const names = wanted ? [...new Set(wanted)] : [...granted];
  for (const name of names) {
    findSecret(config, name);
    if (!granted.has(name)) throw policyError('SECRET_NOT_GRANTED', `agent "${agent.name}" holds no grant of secret "${name}"`, { hint: `grant it with: agentauth grant ${agent.name} ${name}` });
  }
  // Grants are checked for this when made; a config edited by hand (or from before) is checked here.
  const clash = findVariableClash(names.map((name) => config.secrets[name]!));
  if (clash) {
    throw usageError('ENV_TAKEN', `secrets "${clash.first}" and "${clash.second}" both set ${clash.variable} in the child`, { hint: `run with --secret to choose one, or change one's --env` });
  }
  return names;
}

/**
 * Brings a run up to the point where the child can start. Once the audit
 * sink exists, a failure writes run.fail (the token.mint it queued must not
 * stand alone) before it is thrown.
 */
export async function startRunGateway(ctx: Context, flags: GatewayFlags, command: string): Promise<RunningGateway> {
  const config = loadConfig(ctx);
  const agent = chooseAgent(config, flags.agent);
  const secretNames = chooseSecrets(config, agent, flags.secret);
  const grants = new Map(agent.grants.map((grant) => [grant.secret, grant]));
  // Heavy modules only now: `token mint` never pays for TLS and X.509.
  const [tls, { startGateway }, { obtainLocalCa }, { createLeafCache }, { createRunSecret }, { derivePlaceholder, derivePlaceholderKey }, trust, { startSession }] = await Promise.all([
    import('node:tls'),
    import('../../core/gateway/listen.js'),
    import('../../core/gateway/ca-store.js'),
    import('../../core/gateway/ca.js'),
    import('../../core/gateway/policy.js'),
    import('../../core/gateway/placeholders.js'),
    import('../../core/gateway/trust.js'),
    import('../../core/gateway/session.js'),
  ]);
  const upstreamExtra = (flags.upstreamCa ?? []).flatMap((file) => trust.readUpstreamCa(file));

  const keystore = await openKeystore(ctx, config, flags);
  const signer = await loadActiveSigner(config, keystore);
  const cleanup: (() => void | Promise<void>)[] = [];
  const id: RunIdentity = { run: randomBytes(12).toString('base64url'), agent: agent.name, actor: ctx.actor };
  const audience = `urn:agentauth:gateway:${id.run}`;

  let secrets: RunSecret[] = [];
  if (secretNames.length > 0) {
    const { key } = await obtainVaultKey(config, keystore, { create: false });
    const values = decryptValues(ctx.paths.vault, ctx.paths.owner, key, secretNames);
    const placeholderKey = derivePlaceholderKey(key);
    secrets = secretNames.map((name) => {
      const record = config.secrets[name]!;
      return createRunSecret(record, buildEffectivePolicy(record, grants.get(name)!), values.get(name)!, derivePlaceholder(placeholderKey, agent.name, record));
    });
    placeholderKey.fill(0);
  }
  cleanup.push(() => {
    for (const secret of secrets) secret.value.fill(0);
  });

  const { ca, createdKey } = await obtainLocalCa(config, keystore, ctx.paths, new Date());
  if (createdKey) await updateConfig(ctx.paths, (current) => recordKeystoreEntry(current, entryName.caKey));

  const audit = await openAuditSink(ctx, config, keystore);
  try {
    const ttlSeconds = Math.min(SESSION_TTL_SECONDS, agent.maxTtl);
    const verifyToken = createTokenVerifier({ keys: buildJwks(config, Math.floor(Date.now() / 1000)), issuer: config.issuer, audience, clockToleranceSeconds: 0 });
    const session = await startSession({
      agent: agent.name,
      // The session token carries no scopes: it opens this gateway and nothing else.
      mint: () => mintToken({ agent, issuer: config.issuer, aud: audience, scopes: [], ttlSeconds, skipAudienceCheck: true }, signer),
      verify: async (token) => {
        const { claims } = await verifyToken(token);
        return { jti: String(claims.jti), sub: String(claims.sub), exp: Number(claims.exp) };
      },
      onRenew: (minted) => audit.push(sessionMintEvent(id, minted)),
      onError: (error) => ctx.warn(`could not renew the session token (${(error as Error).message})`),
    });
    cleanup.push(() => session.stop());
    // Queued before anything else of this run, so the log shows the mint before any use of the token.
    audit.push(sessionMintEvent(id, session.initial));

    const upstreamContext = tls.createSecureContext({ ca: trust.buildUpstreamRoots(upstreamExtra) });
    // Leaves issued by earlier runs are reused from the keystore; a new one is
    // stored in the background, and the run waits for that before it ends.
    const { createKeystoreLeafStore } = await import('../../core/gateway/leaf-store.js');
    const leafStore = createKeystoreLeafStore(keystore);
    const contextForHost = createLeafCache(ca, (leaf) => tls.createSecureContext({ key: leaf.keyPem, cert: leaf.certPem }), leafStore, (error) =>
      ctx.warn(`could not keep a gateway certificate in the keystore (${(error as Error).message}); the next run issues it again`),
    );
    cleanup.push(() => leafStore.settle());
    const gateway = await startGateway({
      agent: agent.name,
      secrets,
      authenticate: (token) => session.authenticate(token),
      baseUrlPrincipal: session.principal,
      contextForHost,
      upstreamContext,
      denyUnlisted: flags.denyUnlisted === true,
      onEvent: (event) => audit.push(event),
    });
    cleanup.push(() => gateway.close());
    return { id, config, agent, secrets, session, gateway, audit, caPem: ca.certPem, cleanup };
  } catch (error) {
    await undoSteps(cleanup);
    const { runFailEvent } = await import('./records.js');
    await audit.close([runFailEvent(id, { command, exitCode: 125, code: (error as { code?: string }).code ?? 'RUN_CANNOT_START', reason: (error as Error).message })]).catch(() => {});
    throw error;
  }
}

/**
 * Group commits on this thread, with the fsync asynchronous: the log lock is
 * held across it, requests are not. A worker thread doing the appends
 * measured no faster on 2 cores (its CPU competes with the traffic anyway)
 * and cost ~15 MiB of RSS for its isolate.
 */
async function openAuditSink(ctx: Context, config: Config, keystore: Keystore): Promise<AuditSink> {
  const [{ createAuditAppender }, { loadLogSigner }, { createAuditSink, GROUP_COMMIT_WINDOW_MS }] = await Promise.all([
    import('../../core/audit/appender.js'),
    import('../../core/audit/log-key.js'),
    import('../../core/gateway/audit-sink.js'),
  ]);
  let failures = 0;
  const rotateBytes = readRotateBytes(config);
  const appender = createAuditAppender({
    file: ctx.paths.auditLog,
    origin: config.log.origin,
    vkey: config.log.vkey,
    recoverActor: ctx.actor,
    signer: await loadLogSigner(await requireEntry(keystore, entryName.logKey), config.log.origin),
    maxDelayMs: GROUP_COMMIT_WINDOW_MS,
    maxBatch: 4096,
    // A long run rotates the log on its own too (audit.rotate-bytes).
    ...(rotateBytes !== undefined ? { rotateBytes } : {}),
    onError: (error) => {
      failures += 1;
      if (failures === 1) ctx.warn(`the audit log could not be written (${(error as Error).message}); traffic continues, the log will show a gap in coverage`);
    },
  });
  return createAuditSink(appender);
}

/** Runs `steps` last first; one failed step must not skip the others. */
export async function undoSteps(steps: (() => void | Promise<void>)[]): Promise<void> {
  for (const step of steps.splice(0).reverse()) {
    try {
      await step();
    } catch {
      // Best effort.
    }
  }
}
