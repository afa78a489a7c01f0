// What run's records say about a start failure: the exit status the user saw,
// the same number src/main.ts gives that kind of error.
import { describe, expect, it } from 'vitest';
import { childStartError } from '../../../src/core/errors.js';
import { childStartExitCode } from '../../../src/commands/run/records.js';
import { EXIT_CODES } from '../../../src/main.js';

describe('run.fail exit_code', () => {
  it('is 125, 126 or 127 exactly as main.ts exits', () => {
    for (const code of ['RUN_CANNOT_START', 'COMMAND_NOT_EXECUTABLE', 'COMMAND_NOT_FOUND'] as const) {
      const error = childStartError(code, 'x');
      expect(childStartExitCode(error), code).toBe(EXIT_CODES[error.kind]);
    }
  });
});
