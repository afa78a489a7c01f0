// Whether a real Secret Service answers (gnome-keyring under .ci/with-keyring.sh).
// Without one, keychain suites are skipped with the reason printed; where one
// was promised (AGENTAUTH_TEST_SECRET_SERVICE) its absence fails instead.
import { execa } from 'execa';

export async function findSecretServiceGap(suite: string): Promise<string | null> {
  const reason = await probe();
  if (reason) {
    if (process.env['AGENTAUTH_TEST_SECRET_SERVICE']) throw new Error(`a Secret Service was promised but does not answer: ${reason}`);
    console.warn(`[${suite} skipped] no Secret Service: ${reason}`);
  }
  return reason;
}

async function probe(): Promise<string | null> {
  if (!process.env['DBUS_SESSION_BUS_ADDRESS']) return 'DBUS_SESSION_BUS_ADDRESS is unset (run under .ci/with-keyring.sh)';
  const result = await execa('secret-tool', ['search', '--all', 'service', 'agentauth-probe'], { reject: false });
  if (result.exitCode === undefined || (result.failed && result.exitCode !== 1)) return `secret-tool did not run: ${result.stderr || result.message}`;
  return null;
}
