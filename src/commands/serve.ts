// `agentauth serve`: unlock once, then mint on a Unix socket for `token mint`
// and publish the JWKS, discovery documents and the latest checkpoint over
// HTTP. A foreground process for systemd or launchd: one log line per event
// on stderr, a clean stop on SIGTERM or SIGINT (the socket file removed).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { type Config } from '../core/config.js';
import { parseDuration } from '../core/duration.js';
import { usageError, type AgentAuthError } from '../core/errors.js';
import { createAuditAppender } from '../core/audit/appender.js';
import type { AuditEventInput } from '../core/audit/event.js';
import { loadLogSigner } from '../core/audit/log-key.js';
import { entryName, openConfiguredKeystore, requireEntry, type PassphraseSource } from '../core/keystore/index.js';
import { mintAndRecord, type MintAnswer, type MintCall } from '../core/mint.js';
import { createCheckpointReader } from '../core/serve/checkpoint.js';
import { createConfigWatch } from '../core/serve/config-watch.js';
import { publishDocuments, type Published } from '../core/serve/documents.js';
import { createHttpHandler } from '../core/serve/http.js';
import { unlockKeys } from '../core/serve/keys.js';
import { listenLineSocket } from '../core/serve/line-socket.js';
import { createMintHandler, refusalAnswer } from '../core/serve/mint-handler.js';
import { resolveSocketPath } from '../core/serve/socket-path.js';
import { VERSION } from '../version.js';
import { createPassphraseSource, type Context, type KeystoreFlags } from './context.js';
import type { CommandResult } from './result.js';
import { loadConfig } from './state.js';

const DEFAULT_LISTEN = '127.0.0.1:8765';

interface ServeFlags extends KeystoreFlags {
  listen?: string;
  socket?: string;
  /** false with --no-http */
  http?: boolean;
  idleLock?: string;
}

export async function serveCommand(ctx: Context, flags: ServeFlags): Promise<CommandResult> {
  const listen = flags.http === false ? null : parseListen(flags.listen ?? DEFAULT_LISTEN);
  const idleLockMs = flags.idleLock !== undefined ? parseDuration(flags.idleLock, '--idle-lock') * 1000 : null;
  const uid = ctx.uid ?? null;
  const socketPath = flags.socket ?? resolveSocketPath(ctx.env);
  const log = createLog(ctx);
  const initial = loadConfig(ctx);

  // Unlock once. The file backend's passphrase is kept for a rotated key (see src/core/serve/keys.ts).
  const ask = createPassphraseSource(ctx, flags);
  let passphrase: string | null = null;
  const remembered: PassphraseSource = async (purpose) => (passphrase ??= await ask(purpose));
  let latest: Config = initial;
  const holder = await unlockKeys(initial, () => openConfiguredKeystore(latest, ctx.paths, remembered, ctx.env), (kid) => log('key.load', { kid }));
  // A long-running server on small machines: keep the heap small (see src/commands/run/heap.ts).
  const { tuneHeapForLongRun } = await import('./run/heap.js');
  const stopTuning = tuneHeapForLongRun(ctx.env);

  const watch = createConfigWatch(ctx.paths, initial, (next, previous) => {
    latest = next;
    log('config.reload', { kid: activeKid(next), agents: Object.keys(next.agents).length });
    if (next.issuer !== previous.issuer) log('config.issuer', { issuer: next.issuer });
  });
  // The log's long-running writer (as `run`'s gateway uses): the same append under the same lock
  // as a CLI mint, with the log's tail kept in memory between appends. One event per write and no
  // waiting window: a mint is answered as soon as its event is fsynced.
  const logSigner = await loadLogSigner(await requireEntry(await holder.keystoreFor(initial), entryName.logKey), initial.log.origin);
  const appender = createAuditAppender({
    file: ctx.paths.auditLog,
    origin: initial.log.origin,
    vkey: initial.log.vkey,
    signer: logSigner,
    recoverActor: ctx.actor,
    maxBatch: 1,
  });
  const record = async (events: AuditEventInput[]): Promise<void> => {
    await Promise.all(events.map((event) => appender.append(event)));
  };

  let resetIdle = (): void => {};
  const mint = async (call: MintCall): Promise<MintAnswer> => {
    try {
      const config = watch.current();
      const { answer } = await mintAndRecord(call, { config, actor: ctx.actor, signer: () => holder.signerFor(config), record });
      log('token.mint', { agent: call.agent, aud: answer.aud, scope: answer.scope, jti: answer.jti, kid: answer.kid, exp: answer.exp });
      resetIdle();
      return answer;
    } catch (error) {
      log('token.refused', { agent: call.agent, aud: call.aud, code: (error as { code?: string }).code ?? 'INTERNAL' });
      throw error;
    }
  };

  const startedAt = new Date().toISOString();
  const refuse = (error: AgentAuthError) => refusalAnswer(error, ctx.exitCodeOf(error));
  let httpUrl: string | null = null;
  const line = await listenLineSocket(
    socketPath,
    createMintHandler({
      mint,
      ping: () => ({ pid: process.pid, version: VERSION, backend: initial.backend, socket: socketPath, http: httpUrl, startedAt }),
      onFailure: (error) => log('serve.error', { message: (error as Error).message ?? String(error) }),
      refuse,
    }),
    { uid, warn: (message) => log('serve.warning', { message }), refuse },
  );

  let http: Server | null = null;
  if (listen) {
    try {
      http = await startHttp(ctx, listen, watch, () => httpUrl!);
    } catch (error) {
      await line.close();
      await appender.close();
      holder.forget();
      stopTuning();
      throw error;
    }
    httpUrl = urlOf(http.address() as AddressInfo);
    const mismatch = describeIssuerMismatch(initial.issuer, http.address() as AddressInfo, listen.host);
    if (mismatch) log('serve.warning', { message: mismatch });
  }

  log('serve.start', { pid: process.pid, backend: initial.backend, socket: socketPath, http: httpUrl ?? 'off', ...(idleLockMs ? { 'idle-lock': flags.idleLock } : {}) });

  const reason = await new Promise<string>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => resolve(signal);
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    if (idleLockMs !== null) {
      let timer = setTimeout(() => resolve('idle-lock'), idleLockMs);
      resetIdle = () => {
        clearTimeout(timer);
        timer = setTimeout(() => resolve('idle-lock'), idleLockMs);
      };
    }
  });
  resetIdle = () => {};
  log('serve.stopping', { reason });
  if (http) {
    http.close();
    http.closeAllConnections();
  }
  // Mints in progress answer (their events are fsynced) before the socket goes.
  await line.close();
  await appender.close();
  holder.forget();
  passphrase = null;
  stopTuning();
  log(reason === 'idle-lock' ? 'serve.locked' : 'serve.stop', { reason, ...(reason === 'idle-lock' ? { 'idle-for': flags.idleLock } : {}) });
  return { data: { stopped: reason } };
}

interface ListenAddress {
  host: string;
  port: number;
}

function parseListen(text: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw usageError('BAD_LISTEN', `invalid --listen ${JSON.stringify(text)}: use ADDR:PORT, e.g. 127.0.0.1:8765, 0.0.0.0:8765 or [::1]:8765`);
  }
  return { host: (match[1] ?? match[2])!, port };
}

async function startHttp(ctx: Context, listen: ListenAddress, watch: ReturnType<typeof createConfigWatch>, url: () => string): Promise<Server> {
  let published: Published | null = null;
  let publishedFor: Config | null = null;
  const readCheckpoint = createCheckpointReader(
    () => ctx.paths.auditLog,
    () => watch.lastGood().log.vkey,
  );
  const handler = createHttpHandler({
    documents() {
      // Rebuilt only when the config changed or a previous key reached its retirement time.
      const config = watch.lastGood();
      const now = Date.now() / 1000;
      if (!published || publishedFor !== config || now >= published.validUntil) {
        published = publishDocuments(config, baseUrlOf(config, url()), Math.floor(now));
        publishedFor = config;
      }
      return published;
    },
    checkpoint: readCheckpoint,
    health: () => ({ status: 'ok', kid: activeKid(watch.lastGood()) }),
  });
  const server = createServer({ keepAliveTimeout: 5000, headersTimeout: 10_000, requestTimeout: 10_000 }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const inUse = error.code === 'EADDRINUSE';
      reject(
        usageError('LISTEN_FAILED', `cannot listen on ${listen.host}:${listen.port}: ${inUse ? 'the port is in use' : (error.code ?? error.message)}`, {
          hint: inUse ? 'is another serve running? pick another --listen ADDR:PORT, or --no-http' : 'check --listen',
        }),
      );
    });
    server.listen(listen.port, listen.host, () => resolve());
  });
  return server;
}

function urlOf(address: AddressInfo): string {
  const host = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/** Where verifiers find the JWKS: under the issuer when it is a URL (tokens.md), else under serve's own address. */
function baseUrlOf(config: Config, listenUrl: string): string {
  if (/^https?:\/\//i.test(config.issuer)) return config.issuer.replace(/\/+$/, '');
  const wildcard = /^http:\/\/(0\.0\.0\.0|\[::\]):/.exec(listenUrl);
  return wildcard ? listenUrl.replace(wildcard[1]!, hostname()) : listenUrl;
}

/** The warning to print when the issuer is not this server's URL, or null. */
function describeIssuerMismatch(issuer: string, address: AddressInfo, listenHost: string): string | null {
  const served = urlOf(address);
  let parsed: URL | null = null;
  try {
    parsed = new URL(issuer);
  } catch {
    parsed = null;
  }
  const wildcard = listenHost === '0.0.0.0' || listenHost === '::';
  const sameHost = parsed !== null && (wildcard || parsed.hostname.replace(/^\[|\]$/g, '') === address.address || parsed.hostname === listenHost);
  if (parsed && parsed.protocol === 'http:' && Number(parsed.port || 80) === address.port && sameHost && (parsed.pathname === '/' || parsed.pathname === '')) return null;
  return (
    `the issuer is ${JSON.stringify(issuer)}, not this server's URL (${served}): verifiers that find keys from iss will not find them here. ` +
    `If this server is how services reach the keys, run: agentauth config set issuer ${wildcard ? `http://${hostname()}:${address.port}` : served} (new tokens carry it; tell your services)`
  );
}

function activeKid(config: Config): string {
  return config.keys.find((key) => key.status === 'active')?.kid ?? 'none';
}

type LogFields = Record<string, string | number | boolean | null | undefined>;

/** One line per event on stderr: time, event, key=value pairs (values with spaces quoted). */
function createLog(ctx: Context): (event: string, fields?: LogFields) => void {
  return (event, fields = {}) => {
    const parts = Object.entries(fields)
      .filter(([, value]) => value !== undefined && value !== null)
      .map(([key, value]) => {
        const text = String(value);
        return `${key}=${/^[^\s"=]+$/.test(text) ? text : JSON.stringify(text)}`;
      });
    ctx.stderr.write(`${new Date().toISOString()} ${event}${parts.length ? ` ${parts.join(' ')}` : ''}\n`);
  };
}
