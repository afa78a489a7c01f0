// A progress line on stderr for long jobs (`audit verify` of a large log):
// only on a terminal, redrawn in place at most ten times a second, and wiped
// when the job ends so that what follows starts on a clean line. Scripts and
// pipes (stderr not a terminal) never see it.

/** Below this many bytes a verify takes well under a second: no progress line. */
export const PROGRESS_MIN_BYTES = 8 << 20;
const EVERY_MS = 100;

export interface ProgressLine {
  update(done: number): void;
  end(): void;
}

export function startProgress(stream: { write(text: string): unknown; isTTY?: boolean }, label: string, total: number): ProgressLine | null {
  if (stream.isTTY !== true || total < PROGRESS_MIN_BYTES) return null;
  let shownAt = 0;
  let shown = false;
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
  return {
    update(done) {
      const now = performance.now();
      if (shown && now - shownAt < EVERY_MS) return;
      shownAt = now;
      shown = true;
      const percent = Math.min(100, Math.floor((done / total) * 100));
      stream.write(`\r\u001b[2K${label}: ${percent}% (${mib(done)} of ${mib(total)} MiB)`);
    },
    end() {
      if (shown) stream.write('\r\u001b[2K');
    },
  };
}
