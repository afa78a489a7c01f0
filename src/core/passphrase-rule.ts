// The floor for a new passphrase (file keystore, backups). A PBES2 count slows
// each guess down; it cannot make a one-character passphrase safe.
import { usageError, type AgentAuthError } from './errors.js';

/** Characters (Unicode code points), after the one trailing newline a file may end with is dropped. */
const MIN_PASSPHRASE_LENGTH = 12;
/** At least this many different characters: "aaaaaaaaaaaa" is as weak as "a". */
const MIN_DISTINCT = 5;

/**
 * Why `passphrase` is too weak to protect new keys, or null when it will do.
 * The rule is deliberately simple enough to state in one line: 12 characters
 * or more, at least 5 of them different. `head -c 32 /dev/urandom | base64`
 * (44 characters) and a four-word phrase both pass.
 */
export function findPassphraseWeakness(passphrase: string): string | null {
  const chars = [...passphrase];
  if (chars.length < MIN_PASSPHRASE_LENGTH) return `it has ${chars.length} character${chars.length === 1 ? '' : 's'}; use at least ${MIN_PASSPHRASE_LENGTH}`;
  if (new Set(chars).size < MIN_DISTINCT) return `it repeats too few different characters; use at least ${MIN_DISTINCT} different ones`;
  return null;
}

export function weakPassphraseError(what: string, weakness: string): AgentAuthError {
  return usageError('WEAK_PASSPHRASE', `the ${what} is too weak: ${weakness}`, {
    hint: `a random one kept in a file works well: umask 077; head -c 32 /dev/urandom | base64 > FILE`,
  });
}
