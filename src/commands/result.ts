import type { ErrorKind } from '../core/errors.js';
import type { Style } from '../ui/style.js';

/**
 * How a command ended, in words: src/main.ts turns it into the exit status.
 * `run` passes its child's status through as it is.
 */
export type Outcome = 'ok' | ErrorKind | { childExitCode: number };

/**
 * What a command hands back: plain data (the --json document, minus
 * schemaVersion) and a renderer for humans. Printing happens in cli.ts.
 */
export interface CommandResult {
  data: Record<string, unknown>;
  /** Human text for stdout; omit for commands whose stdout is only data. */
  render?: (style: Style) => string;
  /** Set when the command ran but did not succeed (e.g. verify found tampering). Default: 'ok'. */
  outcome?: Outcome;
}

export const SCHEMA_VERSION = 1;
