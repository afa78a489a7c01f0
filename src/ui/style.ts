// Painting, once src/main.ts has decided per stream whether to (ui/colour.ts).
import kleur from 'kleur';

// kleur decides by itself from process.stdout and FORCE_COLOR at import time,
// which would strip colour from stderr whenever stdout is piped: the decision
// is ours (Style.enabled), so kleur always paints when asked.
kleur.enabled = true;

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
