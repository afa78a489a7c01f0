// The client side of the mint socket: one JSON request, one JSON answer.
// `token mint` loads this before commander or jose (see src/fast-mint.ts), so
// it imports nothing heavy.
import { lstatSync } from 'node:fs';
import { connect } from 'node:net';
import { AgentAuthError, isErrorCode, keystoreError, internalError } from '../errors.js';
import type { MintAnswer, MintCall } from '../mint.js';

export type ServeCall =
  | { answered: true; answer: Record<string, unknown> }
  /** Nothing could be sent: no serve (or not ours) at that path. `foreignOwner` is set when the socket belongs to another uid. */
  | { answered: false; reason: string; foreignOwner?: number };

export interface CallOptions {
  /** Our uid: a socket owned by anyone else is never used. Null where uids do not exist. */
  uid: number | null;
  /** How long to wait for the answer once the request is sent (a mint includes an fsync). */
  timeoutMs?: number;
}

/**
 * Sends `request` to the serve at `path`. Resolves `answered: false` when no
 * request could be sent (no socket, refused, not ours), so the caller can do
 * the work itself; once sent, a missing answer is an error, never a silent
 * retry that could mint twice.
 */
export function callServe(path: string, request: Record<string, unknown>, options: CallOptions): Promise<ServeCall> {
  let owner: number;
  try {
    const stat = lstatSync(path);
    if (!stat.isSocket()) return Promise.resolve({ answered: false, reason: `${path} is not a socket` });
    owner = stat.uid;
  } catch (error) {
    return Promise.resolve({ answered: false, reason: (error as NodeJS.ErrnoException).code ?? 'unreadable' });
  }
  if (options.uid !== null && owner !== options.uid) {
    return Promise.resolve({ answered: false, reason: `${path} belongs to uid ${owner}`, foreignOwner: owner });
  }
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let sent = false;
    let text = '';
    const fail = (message: string) => {
      socket.destroy();
      reject(
        keystoreError('SERVE_NO_ANSWER', `agentauth serve (${path}) ${message}`, {
          hint: 'see its log; to mint without it: agentauth token mint --direct …',
        }),
      );
    };
    const timer = setTimeout(() => fail('did not answer in time'), options.timeoutMs ?? 30_000);
    timer.unref?.();
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      sent = true;
      socket.write(`${JSON.stringify(request)}\n`);
    });
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\n');
      if (end === -1) return;
      clearTimeout(timer);
      // The answer is all we wait for: no need to wait for the close handshake before exiting.
      socket.destroy();
      try {
        const answer = JSON.parse(text.slice(0, end)) as unknown;
        if (!answer || typeof answer !== 'object' || Array.isArray(answer)) throw new Error('not an object');
        resolve({ answered: true, answer: answer as Record<string, unknown> });
      } catch {
        reject(internalError('SERVE_BAD_ANSWER', `agentauth serve (${path}) answered something that is not a JSON object`));
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (!sent) resolve({ answered: false, reason: error.code ?? error.message });
      else fail(`failed: ${error.code ?? error.message}`);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (sent && !text.includes('\n')) fail('closed the connection without answering');
    });
  });
}

/** Turns a `{"ok":false,…}` answer into the error a direct run would have thrown. */
export function answerToError(answer: Record<string, unknown>): AgentAuthError {
  // The code decides the kind, and so the exit status; a code this version does not know is a bad answer.
  const code = isErrorCode(answer['code']) ? answer['code'] : 'SERVE_BAD_ANSWER';
  const message = typeof answer['message'] === 'string' ? answer['message'] : 'agentauth serve refused the request';
  const hint = typeof answer['hint'] === 'string' ? answer['hint'] : undefined;
  const details = answer['details'] && typeof answer['details'] === 'object' ? (answer['details'] as Record<string, unknown>) : undefined;
  return new AgentAuthError(code, message, { ...(hint ? { hint } : {}), ...(details ? { details } : {}) });
}

/** The socket request for a mint (docs/serve.md, "The socket protocol"). */
export function mintRequest(call: MintCall): Record<string, unknown> {
  return {
    op: 'mint',
    agent: call.agent,
    ...(call.aud !== undefined ? { aud: call.aud } : {}),
    ...(call.scopes ? { scope: call.scopes } : {}),
    ...(call.ttl !== undefined ? { ttl: call.ttl } : {}),
    ...(call.onBehalfOf !== undefined ? { onBehalfOf: call.onBehalfOf } : {}),
    ...(call.dpopJkt !== undefined ? { dpopJkt: call.dpopJkt } : {}),
  };
}

/** A mint answer as `token mint --json` prints it (minus schemaVersion): these fields, in this order. */
export function readMintAnswer(answer: Record<string, unknown>): MintAnswer {
  if (answer['ok'] !== true) throw answerToError(answer);
  return {
    token: answer['token'] as string,
    jti: answer['jti'] as string,
    kid: answer['kid'] as string,
    exp: answer['exp'] as number,
    scope: answer['scope'] as string,
    aud: answer['aud'] as string,
  };
}
