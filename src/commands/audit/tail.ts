// `agentauth audit tail [-n N] [--follow]`.
import { closeSync, fstatSync, openSync, readSync, statSync, watchFile, unwatchFile } from 'node:fs';
import { readTailLines } from '../../core/audit/tail.js';
import type { Context } from '../context.js';
import type { CommandResult } from '../result.js';
import { isOutputClosed } from '../../ui/closed-output.js';
import { renderTailLine, type TimeFormat } from '../../ui/render-audit.js';
import { integerFlag, requireLogFile, type LogFlag } from './inputs.js';

export interface TailFlags extends LogFlag {
  lines?: string;
  follow?: boolean;
  json?: boolean;
  localTime?: boolean;
}

export async function tailCommand(ctx: Context, flags: TailFlags): Promise<CommandResult> {
  const file = flags.log ?? ctx.paths.auditLog;
  requireLogFile(file);
  const count = integerFlag(flags.lines ?? '10', '-n') as number;
  const lines = readTailLines(file, count);
  const json = flags.json === true;
  const time: TimeFormat = { local: flags.localTime === true };
  if (!flags.follow) {
    return {
      data: { file, lines: lines.map((line) => safeParse(line)) },
      render: (style) => lines.map((line) => renderTailLine(line, style, time)).join('\n'),
    };
  }
  // --follow: print what exists, then new complete lines as they are appended, until interrupted.
  const print = (line: string) => ctx.stdout.write(`${json ? line : renderTailLine(line, ctx.style, time)}\n`);
  lines.forEach(print);
  let position = statSync(file).size;
  let carry = '';
  await new Promise<void>((resolve) => {
    const poll = () => {
      // The reader went away (`| head`): a normal end.
      if (isOutputClosed(ctx.stdout)) {
        stop();
        return;
      }
      const fd = openSync(file, 'r');
      try {
        const size = fstatSync(fd).size;
        if (size < position) position = 0; // replaced or truncated: start over
        if (size > position) {
          const buf = Buffer.alloc(size - position);
          readSync(fd, buf, 0, buf.length, position);
          position = size;
          const text = carry + buf.toString('utf8');
          const parts = text.split('\n');
          carry = parts.pop() ?? '';
          parts.forEach(print);
          // A write to a reader that went away fails after this tick: end then, not at the next event.
          setImmediate(() => {
            if (isOutputClosed(ctx.stdout)) stop();
          });
        }
      } finally {
        closeSync(fd);
      }
    };
    watchFile(file, { interval: 250 }, poll);
    const stop = () => {
      unwatchFile(file, poll);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return { data: { file, following: false } };
}

function safeParse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return { unparsable: line };
  }
}
