// Whether a stream gets colour, decided once per stream in src/main.ts: only
// on a terminal, and never with NO_COLOR (any non-empty value, no-color.org),
// FORCE_COLOR=0, TERM=dumb or --no-color. FORCE_COLOR=1 does not colour a pipe:
// cli.md promises colour only on a terminal.
export function decideColour(stream: { isTTY?: boolean }, env: Record<string, string | undefined>, noColorFlag: boolean): boolean {
  if (noColorFlag || env['NO_COLOR']) return false;
  if (env['FORCE_COLOR'] === '0' || env['FORCE_COLOR'] === 'false') return false;
  if (env['TERM'] === 'dumb') return false;
  return stream.isTTY === true;
}
