// The mint socket: a Unix domain socket, mode 0600 in a 0700 folder, that
// takes one JSON request per line and answers one JSON line each, in order.
// Only our uid can connect; even so every request goes through the same
// policy as the CLI, and a client cannot hold serve up: lines are bounded,
// idle connections are closed, and so are connections beyond a limit.
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { keystoreError, usageError, type AgentAuthError } from '../errors.js';
import { MAX_SOCKET_PATH_BYTES } from './socket-path.js';

const MAX_LINE_BYTES = 64 * 1024;
const IDLE_MS = 60_000;
const MAX_CONNECTIONS = 256;

export type LineHandler = (request: unknown) => Promise<Record<string, unknown>>;

export interface LineSocket {
  path: string;
  /** Stops accepting, lets requests in progress answer, then removes the socket file. */
  close(): Promise<void>;
}

export interface LineSocketOptions {
  /** Our uid (null where there are none): the folder must belong to us. */
  uid: number | null;
  /** Told about a folder other users can enter (the socket itself is still 0600). */
  warn(message: string): void;
  /** The `{"ok":false,…}` answer for a request that is not one line of JSON, or is too long. */
  refuse(error: AgentAuthError): Record<string, unknown>;
}

export async function listenLineSocket(path: string, handle: LineHandler, options: LineSocketOptions): Promise<LineSocket> {
  // The socket is first bound in a staging folder beside it (see below): that path must fit too.
  if (Buffer.byteLength(join(dirname(path), '.serve-XXXXXX', 's')) > MAX_SOCKET_PATH_BYTES || Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw usageError('SOCKET_PATH_TOO_LONG', `the socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes, the most a Unix socket address holds`, {
      hint: 'pass a shorter --socket PATH (and the same in AGENTAUTH_SOCK for token mint)',
    });
  }
  preparePrivateFolder(dirname(path), options);
  await removeStaleSocket(path);

  const connections = new Set<Socket>();
  const busy = new Set<Promise<void>>();
  const server: Server = createServer((socket) => {
    if (connections.size >= MAX_CONNECTIONS) {
      socket.destroy();
      return;
    }
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    serveConnection(socket, handle, busy, options.refuse);
  });
  // Bound inside a fresh 0700 folder, set to 0600, then renamed into place:
  // there is no moment at which another user could connect.
  const staging = mkdtempSync(join(dirname(path), '.serve-'));
  const staged = join(staging, 's');
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(staged, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(staged, 0o600);
    renameSync(staged, path);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  const inode = statSync(path).ino;

  return {
    path,
    async close() {
      // Stop accepting; idle connections go now, busy ones once their answers are written.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of connections) if (!busySocket(socket)) socket.end();
      while (busy.size > 0) await Promise.all([...busy]);
      for (const socket of connections) socket.destroy();
      await closed;
      // Remove only our own socket: a newer serve may have taken the path since.
      try {
        if (statSync(path).ino === inode) unlinkSync(path);
      } catch {
        // Already gone.
      }
    },
  };
}

const inFlight = new WeakSet<Socket>();
function busySocket(socket: Socket): boolean {
  return inFlight.has(socket);
}

/** Reads lines, answers each in order; a line that is too long ends the connection. */
function serveConnection(socket: Socket, handle: LineHandler, busy: Set<Promise<void>>, refuse: LineSocketOptions['refuse']): void {
  socket.setTimeout(IDLE_MS, () => socket.destroy());
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let chain: Promise<void> = Promise.resolve();
  socket.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let lf = chunk.indexOf(0x0a); lf !== -1; lf = chunk.indexOf(0x0a, start)) {
      const line = Buffer.concat([...pending, chunk.subarray(start, lf)]).toString('utf8');
      pending = [];
      pendingBytes = 0;
      start = lf + 1;
      if (line.trim() === '') continue;
      const work = chain.then(() => answer(socket, line, handle, refuse));
      chain = work;
      inFlight.add(socket);
      busy.add(work);
      void work.finally(() => {
        busy.delete(work);
        if (chain === work) inFlight.delete(socket);
      });
    }
    const rest = chunk.subarray(start);
    pendingBytes += rest.length;
    if (pendingBytes > MAX_LINE_BYTES) {
      socket.end(`${JSON.stringify(refuse(usageError('REQUEST_TOO_LARGE', `a request line may hold at most ${MAX_LINE_BYTES} bytes`)))}\n`);
      socket.destroy();
      return;
    }
    if (rest.length > 0) pending.push(rest);
  });
  socket.on('error', () => socket.destroy());
}

async function answer(socket: Socket, line: string, handle: LineHandler, refuse: LineSocketOptions['refuse']): Promise<void> {
  let request: unknown;
  let reply: Record<string, unknown>;
  try {
    request = JSON.parse(line);
  } catch {
    request = undefined;
  }
  if (request === undefined) reply = refuse(usageError('BAD_REQUEST', 'the request is not one line of JSON'));
  else reply = await handle(request);
  if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
}

/**
 * The socket's folder must be ours. One we create is 0700; one that exists
 * and lets other users in is reported, not changed behind the user's back
 * (the socket itself is 0600 either way).
 */
function preparePrivateFolder(dir: string, options: LineSocketOptions): void {
  let created = false;
  try {
    lstatSync(dir);
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    created = true;
  }
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw usageError('SOCKET_FOLDER', `${dir} is not a folder`);
  if (options.uid !== null && st.uid !== options.uid) {
    throw keystoreError('SOCKET_FOLDER_NOT_OURS', `refusing to listen in ${dir}: it belongs to uid ${st.uid}, not to you`, {
      hint: 'someone else created it first; pass --socket PATH in a folder of your own',
    });
  }
  if (created) chmodSync(dir, 0o700);
  else if ((st.mode & 0o077) !== 0) options.warn(`${dir} can be entered by other users; the socket itself is 0600, but a 0700 folder is safer (chmod 700 '${dir}')`);
}

/** A socket left by a serve that died is removed; a live one is an error; anything else at the path is left alone. */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw usageError('SOCKET_PATH_TAKEN', `${path} exists and is not a socket; refusing to replace it`, { hint: 'pass another --socket PATH' });
  }
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) {
    throw usageError('SERVE_RUNNING', `another agentauth serve is already listening on ${path}`, { hint: 'stop it first, or pass another --socket PATH' });
  }
  unlinkSync(path);
}
