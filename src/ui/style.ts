// Colour decisions live here: colour only on a terminal, never with NO_COLOR
// (any non-empty value, per no-color.org) or --no-color.
import kleur from 'kleur';

export interface Style {
  enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

export function createStyle(enabled: boolean): Style {
  const wrap = (paint: (text: string) => string) => (text: string) => (enabled ? paint(text) : text);
  return {
    enabled,
    bold: wrap((t) => kleur.bold(t)),
    dim: wrap((t) => kleur.dim(t)),
    red: wrap((t) => kleur.red(t)),
    green: wrap((t) => kleur.green(t)),
    yellow: wrap((t) => kleur.yellow(t)),
    cyan: wrap((t) => kleur.cyan(t)),
  };
}

export function shouldUseColor(stream: { isTTY?: boolean }, env: Record<string, string | undefined>, flag: boolean): boolean {
  if (!flag) return false;
  if (env['NO_COLOR']) return false;
  if (env['TERM'] === 'dumb') return false;
  return stream.isTTY === true;
}
