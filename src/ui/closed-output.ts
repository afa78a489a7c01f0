// A reader that goes away (`agentauth audit replay | head -1`) is a normal end
// for a command line tool, not a crash. Node ignores SIGPIPE and reports EPIPE
// as an 'error' event on stdout, which would otherwise end the process with a
// stack trace. main.ts routes those errors here: the command finishes with its
// own exit status, what it still writes is dropped, and long-running output
// (`audit tail -f`) asks isOutputClosed and stops. (process.stdout cannot be
// destroyed, and Node resets its error state after the event, so the stream
// itself cannot tell: a mark on the stream remembers. The mark is a global
// symbol, not a module-level set: main.ts is bundled apart from the command
// chunks (dist/main.cjs), so this module exists twice at run time.)
const CLOSED = Symbol.for('agentauth.output-closed');

/** Treats EPIPE on `stream` as the reader having gone; any other error is rethrown. */
export function endQuietlyWhenReaderGoes(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    (stream as unknown as Record<symbol, boolean>)[CLOSED] = true;
  });
}

export function isOutputClosed(stream: object): boolean {
  return (stream as Record<symbol, unknown>)[CLOSED] === true;
}
