import type { Style } from '../ui/style.js';

/**
 * What a command hands back: plain data (the --json document, minus
 * schemaVersion) and a renderer for humans. Printing happens in cli.ts.
 */
export interface CommandResult {
  data: Record<string, unknown>;
  /** Human text for stdout; omit for commands whose stdout is only data. */
  render?: (style: Style) => string;
  /** Non-zero when the command ran but its check failed (e.g. verify). */
  exitCode?: number;
}

export const SCHEMA_VERSION = 1;
