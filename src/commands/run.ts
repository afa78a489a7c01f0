// `agentauth run [--agent NAME] [--secret S…] [--deny-unlisted] [--no-inherit-env] [--upstream-ca FILE] -- CMD [ARGS…]`
//
// Mints a session token, starts the gateway on loopback, runs CMD with
// placeholders and proxy settings in its environment, and exits the way CMD
// exited. Failures before CMD starts exit 125 (126 not executable, 127 not
// found), so they cannot be mistaken for CMD's own exit codes.
//
// Death by signal: after cleanup (gateway closed, run.end and a checkpoint
// written) `run` removes its own handler for that signal and sends the same
// signal to itself, so a shell sees e.g. 143 for SIGTERM or 137 for SIGKILL,
// exactly as if CMD had run directly. Should the signal not end us (it is
// ignored by inheritance), we exit 128 + the signal number instead.
//
// The child runs in a sandbox where the platform offers one (run-sandbox.ts,
// docs/sandbox.md): it cannot reach agentauth's files, keyrings or process.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { recordKeystoreEntry, updateConfig, type AgentRecord, type Config } from '../core/config.js';
import { findAgent } from '../core/agents.js';
import { AgentAuthError, asChildStartFailure, childStartError, isAgentAuthError, notFoundError, policyError, usageError } from '../core/errors.js';
import { entryName } from '../core/keystore/index.js';
import { buildJwks, loadActiveSigner } from '../core/issuer.js';
import { createTokenVerifier, mintToken, type MintedToken } from '../core/tokens.js';
import { buildEffectivePolicy, findSecret } from '../core/secrets.js';
import { readRotateBytes } from '../core/settings.js';
import { decryptValues, obtainVaultKey } from '../core/vault.js';
import type { AuditEventInput } from '../core/audit/event.js';
import type { Context, KeystoreFlags } from './context.js';
import type { CommandResult } from './result.js';
import { loadConfig, openKeystore } from './state.js';
import { requireEntry, type Keystore } from '../core/keystore/index.js';
import { decideSandbox, startSandboxProbe, type SandboxDecision, type SandboxFlags } from './run-sandbox.js';
import type { RunningChild } from './spawn-child.js';
import type { SandboxSupport } from '../core/sandbox/detect.js';

export interface RunFlags extends KeystoreFlags, SandboxFlags {
  agent?: string;
  secret?: string[];
  denyUnlisted?: boolean;
  /** commander's --no-inherit-env sets this to false. */
  inheritEnv?: boolean;
  upstreamCa?: string[];
}

/** Session tokens are short-lived and renewed at half-life (gateway.md, run step 1). */
export const SESSION_TTL_SECONDS = 10 * 60;

export async function runCommand(ctx: Context, command: string[], flags: RunFlags): Promise<CommandResult> {
  const [file, ...args] = command;
  if (!file) throw usageError('NO_COMMAND', 'no command to run', { hint: 'agentauth run [--agent NAME] -- CMD [ARGS…]' });
  // This process serves the child for as long as it runs: keep its heap
  // small from the start (see core/heap.ts), before set-up grows it.
  const { tuneHeapForLongRun } = await import('../core/heap.js');
  tuneHeapForLongRun();
  const probe = startSandboxProbe(ctx, flags);
  let prepared: PreparedRun;
  try {
    prepared = await prepareRun(ctx, flags);
  } catch (error) {
    throw asStartFailure(error);
  }
  return executeRun(ctx, prepared, file, args, flags, probe);
}

/** Every failure before CMD starts is 125 (keeping its code and message), per gateway.md. */
function asStartFailure(error: unknown): AgentAuthError {
  if (isAgentAuthError(error)) return asChildStartFailure(error);
  return childStartError('RUN_CANNOT_START', `agentauth run could not start: ${(error as Error)?.message ?? String(error)}`, { cause: error });
}

interface PreparedRun {
  config: Config;
  agent: AgentRecord;
  keystore: Keystore;
  runId: string;
  cleanup: (() => void | Promise<void>)[];
  gatewayPort: number;
  env: Record<string, string>;
  secretNames: string[];
  session: import('../core/gateway/session.js').Session<MintedToken>;
  gateway: import('../core/gateway/listen.js').Gateway;
  audit: import('../core/gateway/audit-sink.js').AuditSink;
  auditErrors: { count: number };
}

/** Decision: --agent is required unless exactly one agent exists. */
function chooseAgent(config: Config, name: string | undefined): AgentRecord {
  if (name !== undefined) return findAgent(config, name);
  const agents = Object.values(config.agents);
  if (agents.length === 1) return agents[0]!;
  if (agents.length === 0) throw notFoundError('NO_AGENT', 'no agent exists yet', { hint: 'add one with: agentauth agent add NAME --scope … --secret …' });
  throw usageError('AGENT_REQUIRED', `there are ${agents.length} agents; say which one runs the command`, { hint: `agentauth run --agent NAME -- …  (agents: ${agents.map((agent) => agent.name).join(', ')})` });
}

async function prepareRun(ctx: Context, flags: RunFlags): Promise<PreparedRun> {
  const config = loadConfig(ctx);
  const agent = chooseAgent(config, flags.agent);
  const granted = new Map(agent.grants.map((grant) => [grant.secret, grant]));
  const secretNames = flags.secret ? [...new Set(flags.secret)] : [...granted.keys()];
  for (const name of secretNames) {
    findSecret(config, name);
    if (!granted.has(name)) {
      throw policyError('SECRET_NOT_GRANTED', `agent "${agent.name}" holds no grant of secret "${name}"`, { hint: `grant it with: agentauth grant ${agent.name} ${name}` });
    }
  }
  // Heavy modules only now: `token mint` never pays for TLS and X.509.
  const [tls, { startGateway }, { obtainLocalCa }, { createLeafCache }, { createRunSecret }, trust, { buildChildEnv }, { startSession }] = await Promise.all([
    import('node:tls'),
    import('../core/gateway/listen.js'),
    import('../core/gateway/ca-store.js'),
    import('../core/gateway/ca.js'),
    import('../core/gateway/policy.js'),
    import('../core/gateway/trust.js'),
    import('../core/gateway/child-env.js'),
    import('../core/gateway/session.js'),
  ]);
  const upstreamExtra = (flags.upstreamCa ?? []).flatMap((file) => trust.readUpstreamCa(file));

  const keystore = await openKeystore(ctx, config, flags);
  const signer = await loadActiveSigner(config, keystore);
  const cleanup: (() => void | Promise<void>)[] = [];
  const runId = randomBytes(12).toString('base64url');
  const audience = `urn:agentauth:gateway:${runId}`;

  // Values are decrypted here, in the process that runs the gateway, and nowhere else.
  let values = new Map<string, Buffer>();
  if (secretNames.length > 0) {
    const { key } = await obtainVaultKey(config, keystore, { create: false });
    values = decryptValues(ctx.paths.vault, key, secretNames);
  }
  const runSecrets = secretNames.map((name) => createRunSecret(config.secrets[name]!, buildEffectivePolicy(config.secrets[name]!, granted.get(name)!), values.get(name)!));
  cleanup.push(() => {
    for (const secret of runSecrets) secret.value.fill(0);
  });

  const { ca, createdKey } = await obtainLocalCa(config, keystore, ctx.paths, new Date());
  if (createdKey) {
    await updateConfig(ctx.paths, (current) => recordKeystoreEntry(current, entryName.caKey));
  }

  const auditErrors = { count: 0 };
  // Group commits on this thread, with the fsync asynchronous: the log lock is
  // held across it, requests are not. A worker thread doing the appends
  // measured no faster on 2 cores (its CPU competes with the traffic anyway)
  // and cost ~15 MiB of RSS for its isolate.
  const [{ createAuditAppender }, { loadLogSigner }, { createAuditSink, GROUP_COMMIT_WINDOW_MS }] = await Promise.all([
    import('../core/audit/appender.js'),
    import('../core/audit/log-key.js'),
    import('../core/gateway/audit-sink.js'),
  ]);
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
      auditErrors.count += 1;
      if (auditErrors.count === 1) ctx.warn(`the audit log could not be written (${(error as Error).message}); traffic continues, the log will show a gap in coverage`);
    },
  });
  const audit = createAuditSink(appender);

  const mintEvent = (minted: { jti: string; kid: string; exp: number; aud: string; scope: string[] }): AuditEventInput => ({
    kind: 'token.mint',
    actor: ctx.actor,
    data: { agent: agent.name, aud: minted.aud, scope: minted.scope.join(' '), jti: minted.jti, kid: minted.kid, exp: minted.exp, purpose: 'gateway-session' },
  });
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
    onRenew: (minted) => audit.push(mintEvent(minted)),
    onError: (error) => ctx.warn(`could not renew the session token (${(error as Error).message})`),
  });
  cleanup.push(() => session.stop());
  // Queued before anything else of this run, so the log shows the mint before any use of the token.
  audit.push(mintEvent(session.initial));

  const upstreamContext = tls.createSecureContext({ ca: trust.buildUpstreamRoots(upstreamExtra) });
  // Leaves issued by earlier runs are reused from the keystore; a new one is
  // stored in the background, and the run waits for that before it ends.
  const { createKeystoreLeafStore } = await import('../core/gateway/leaf-store.js');
  const leafStore = createKeystoreLeafStore(keystore);
  const contextForHost = createLeafCache(ca, (leaf) => tls.createSecureContext({ key: leaf.keyPem, cert: leaf.certPem }), leafStore, (error) =>
    ctx.warn(`could not keep a gateway certificate in the keystore (${(error as Error).message}); the next run issues it again`),
  );
  cleanup.push(() => leafStore.settle());
  const gateway = await startGateway({
    agent: agent.name,
    secrets: runSecrets,
    authenticate: (token) => session.authenticate(token),
    baseUrlPrincipal: session.principal,
    contextForHost,
    upstreamContext,
    denyUnlisted: flags.denyUnlisted === true,
    onEvent: (event) => audit.push(event),
  });
  cleanup.push(() => gateway.close());

  const dir = mkdtempSync(join(tmpdir(), 'agentauth-run-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  // The child's CA files live in the run's own folder: the sandbox hides the data folder.
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, trust.buildNodeExtraCerts(ctx.env, ca.certPem), { mode: 0o644 });
  const bundleFile = join(dir, 'ca-bundle.pem');
  writeFileSync(bundleFile, trust.buildChildBundle(ctx.env, ca.certPem), { mode: 0o644 });
  const env = buildChildEnv({
    parent: ctx.env,
    inherit: flags.inheritEnv !== false,
    port: gateway.port,
    sessionToken: session.initial.token,
    runKey: gateway.runKey,
    caFile,
    bundleFile,
    secrets: runSecrets.map((secret) => ({
      name: secret.name,
      placeholder: secret.placeholder,
      ...(secret.record.env !== undefined ? { env: secret.record.env } : {}),
      ...(secret.record.baseUrlEnv !== undefined ? { baseUrlEnv: secret.record.baseUrlEnv } : {}),
    })),
    boundHosts: runSecrets.flatMap((secret) => secret.policy.hosts.map((pattern) => pattern.host)),
  });
  return { config, agent, keystore, runId, cleanup, gatewayPort: gateway.port, env, secretNames, session, gateway, audit, auditErrors };
}

const FORWARDED: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGQUIT'];

async function executeRun(ctx: Context, run: PreparedRun, file: string, args: string[], flags: RunFlags, probe: Promise<SandboxSupport> | null): Promise<CommandResult> {
  const started = performance.now();
  let child: RunningChild;
  let sandbox: SandboxDecision['audit'];
  try {
    const decision = await decideSandbox(ctx, run.config, flags, probe);
    sandbox = decision.audit;
    child = await decision.spawn(file, args, run.env);
  } catch (error) {
    await runCleanup(run);
    await run.audit.close([]).catch(() => {});
    const notStarted = isAgentAuthError(error) && (error.kind === 'childNotFound' || error.kind === 'childNotExecutable');
    throw notStarted ? error : asStartFailure(error);
  }
  run.audit.push({
    kind: 'run.start',
    actor: ctx.actor,
    data: { agent: run.agent.name, command: basename(file), secrets: run.secretNames, port: run.gatewayPort, jti: run.session.initial.jti, ...sandbox },
  });

  // SIGINT: on a terminal the child gets it from the terminal itself (same
  // foreground process group), so we only keep from dying of it; otherwise
  // (a supervisor, a pipeline) we forward it like the others.
  const forwarded = ctx.stdin.isTTY === true ? FORWARDED : [...FORWARDED, 'SIGINT' as const];
  const handlers = new Map<NodeJS.Signals, () => void>();
  for (const signal of forwarded) {
    const handler = () => child.kill(signal);
    handlers.set(signal, handler);
    process.on(signal, handler);
  }
  if (ctx.stdin.isTTY === true) {
    const ignore = () => {};
    handlers.set('SIGINT', ignore);
    process.on('SIGINT', ignore);
  }

  const outcome = await child.ended;
  const ms = Math.round(performance.now() - started);
  await runCleanup(run);
  const stats = run.gateway.stats;
  // The log could not be vouched for (a process rewrote it): no checkpoint was signed (audit-log.md, "Writers").
  let checkpointRefused = false;
  try {
    await run.audit.close([
      {
        kind: 'run.end',
        actor: ctx.actor,
        data: {
          agent: run.agent.name,
          jti: run.session.current().jti,
          ...(outcome.signal ? { signal: outcome.signal } : { exit_code: outcome.code ?? 0 }),
          ms,
          requests: stats.requests,
          denied: stats.denied,
          unauthenticated: stats.unauthenticated,
          sandbox: sandbox.sandbox,
        },
      },
    ]);
  } catch (error) {
    if (isAgentAuthError(error) && error.code === 'AUDIT_CHECKPOINT_REFUSED') {
      checkpointRefused = true;
      ctx.stderr.write(`${ctx.stderrStyle.red('error:')} ${error.message}\n${error.hint ? `  hint: ${error.hint}\n` : ''}`);
    } else {
      ctx.warn(`could not write run.end to the audit log (${(error as Error).message})`);
    }
  }
  for (const [signal, handler] of handlers) process.off(signal, handler);

  if (outcome.signal) {
    const number = osConstants.signals[outcome.signal] ?? 0;
    await dieOfSignal(outcome.signal);
    return { data: { signal: outcome.signal }, outcome: { childExitCode: 128 + number } };
  }
  const exitCode = outcome.code ?? 0;
  return { data: { exitCode, ...(checkpointRefused ? { checkpointRefused } : {}) }, outcome: exitCode === 0 && checkpointRefused ? 'checkFailed' : { childExitCode: exitCode } };
}

async function runCleanup(run: PreparedRun): Promise<void> {
  const steps = run.cleanup.splice(0).reverse();
  for (const step of steps) {
    try {
      await step();
    } catch {
      // Best effort: one failed step must not skip the others.
    }
  }
}

/** Re-raises the child's fatal signal on ourselves; returns only if we survived it. */
async function dieOfSignal(signal: NodeJS.Signals): Promise<void> {
  // Our handlers are gone, so the default action applies (proper-lockfile's
  // signal-exit, if loaded, runs its exit hooks and re-raises the same signal).
  try {
    process.kill(process.pid, signal);
  } catch {
    return;
  }
  // Delivery is asynchronous; give it a moment before falling back to 128+n.
  await new Promise((resolve) => setTimeout(resolve, 200));
}
