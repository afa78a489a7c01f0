import { usageError } from './errors.js';

const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const NAME_RULE = 'lowercase letters, digits, ".", "_" and "-", starting with a letter or digit, at most 63 characters';

/** Agent and secret names: `[a-z0-9][a-z0-9._-]{0,62}`. */
export function validateName(name: string, kind: 'agent' | 'secret'): string {
  if (!NAME_PATTERN.test(name)) {
    throw usageError('BAD_NAME', `invalid ${kind} name ${JSON.stringify(name)}: use ${NAME_RULE}`);
  }
  return name;
}
