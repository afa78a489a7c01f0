import { usageError } from './errors.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Parses `90s`, `15m`, `1h`, `7d` into whole seconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const match = /^([1-9][0-9]{0,8})([smhd])$/.exec(text.trim());
  const unit = match ? UNITS[match[2]!] : undefined;
  if (!match || unit === undefined) {
    throw usageError('BAD_DURATION', `invalid ${what} "${text}": use a whole number followed by s, m, h or d (90s, 15m, 1h, 7d)`);
  }
  return Number(match[1]) * unit;
}

/** The shortest exact spelling of a number of seconds (3600 → "1h"). */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (seconds % size === 0 && seconds >= size) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
