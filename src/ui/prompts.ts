// Interactive prompts (loaded only on a terminal). Prompts write to stderr so
// stdout stays data-only.
import { cancel, confirm, isCancel, password } from '@clack/prompts';
import { keystoreError } from '../core/errors.js';

export async function promptPassphrase(purpose: 'unlock' | 'create'): Promise<string> {
  const first = await password({ message: purpose === 'create' ? 'New keystore passphrase' : 'Keystore passphrase', output: process.stderr });
  if (isCancel(first)) throw cancelled();
  if (purpose === 'create') {
    const again = await password({ message: 'Repeat the passphrase', output: process.stderr });
    if (isCancel(again)) throw cancelled();
    if (again !== first) throw keystoreError('PASSPHRASE_MISMATCH', 'the two passphrases differ');
  }
  return first;
}

export async function promptSecretValue(name: string): Promise<string> {
  const value = await password({ message: `Value for secret "${name}"`, output: process.stderr });
  if (isCancel(value)) throw cancelled();
  return value;
}

export async function promptConfirm(message: string): Promise<boolean> {
  const answer = await confirm({ message, output: process.stderr });
  if (isCancel(answer)) throw cancelled();
  return answer;
}

function cancelled() {
  cancel('Cancelled.');
  return keystoreError('CANCELLED', 'cancelled at the prompt');
}
