// Is an agentauth serve of ours answering? For `status`.
import { callServe } from '../core/serve/client.js';
import { resolveSocketPath } from '../core/serve/socket-path.js';
import type { Context } from './context.js';

export interface ServeStatus {
  socket: string;
  up: boolean;
  pid?: number;
  http?: string | null;
  startedAt?: string;
  /** Why it is not up, when a socket file is there but nobody of ours answers. */
  note?: string;
}

export async function probeServe(ctx: Context): Promise<ServeStatus> {
  const uid = ctx.uid ?? null;
  const socket = resolveSocketPath(ctx.env);
  try {
    const result = await callServe(socket, { op: 'ping' }, { uid, timeoutMs: 2000 });
    if (!result.answered) return { socket, up: false, ...(result.reason !== 'ENOENT' ? { note: result.reason } : {}) };
    const { answer } = result;
    return {
      socket,
      up: answer['ok'] === true,
      ...(typeof answer['pid'] === 'number' ? { pid: answer['pid'] } : {}),
      ...(typeof answer['http'] === 'string' || answer['http'] === null ? { http: answer['http'] as string | null } : {}),
      ...(typeof answer['startedAt'] === 'string' ? { startedAt: answer['startedAt'] } : {}),
    };
  } catch (error) {
    return { socket, up: false, note: (error as Error).message };
  }
}
