// A secret's value (bytes, refused clearly) and the variable it is given to the child in.
import { describe, expect, it } from 'vitest';
import { validateEnvName, validateSecretValue } from '../../../src/core/secrets.js';

describe('secret values', () => {
  it('are kept byte for byte, one trailing newline dropped', () => {
    const utf8 = Buffer.from('clé-ünïcode-✓-0123\r\n', 'utf8');
    expect(validateSecretValue(utf8)).toEqual(Buffer.from('clé-ünïcode-✓-0123', 'utf8'));
    expect(validateSecretValue('abcdefghij\n').toString()).toBe('abcdefghij');
  });

  it('refuses bytes that are not UTF-8, controls and outer spaces, without repeating the value', () => {
    const cases: [Buffer, RegExp][] = [
      [Buffer.concat([Buffer.from('secret-ab'), Buffer.from([0xe9]), Buffer.from('cdefgh')]), /not valid UTF-8 \(at offset 9\)/],
      [Buffer.concat([Buffer.from('secret-ab'), Buffer.from([0xc3]), Buffer.from('cdefgh')]), /not valid UTF-8 \(at offset 9\)/],
      [Buffer.from('secret-ab\tcdefgh'), /control character at offset 9/],
      [Buffer.from('secret-ab\x00cdefgh'), /control character at offset 9/],
      [Buffer.from(' secret-abcdefgh'), /starts or ends with a space/],
      [Buffer.from('secret-abcdefgh '), /starts or ends with a space/],
    ];
    for (const [value, message] of cases) {
      let error: unknown;
      try {
        validateSecretValue(value);
      } catch (caught) {
        error = caught;
      }
      expect(error, message.source).toMatchObject({ code: 'BAD_SECRET_VALUE', kind: 'usage', message: expect.stringMatching(message) });
      expect(String((error as Error).message)).not.toContain('secret-ab');
    }
  });
});

describe("a secret's --env", () => {
  it('may not be a variable that changes how programs start, load code or run commands', () => {
    for (const name of ['LD_PRELOAD', 'ld_preload', 'LD_LIBRARY_PATH', 'DYLD_INSERT_LIBRARIES', 'NODE_OPTIONS', 'NODE_PATH', 'BASH_ENV', 'ENV', 'PYTHONPATH', 'PYTHONSTARTUP', 'PERL5OPT', 'RUBYOPT', 'GIT_CONFIG_COUNT', 'GIT_CONFIG_KEY_0', 'GIT_SSH_COMMAND', 'SHELL', 'IFS', 'PROMPT_COMMAND', 'JAVA_TOOL_OPTIONS', 'EDITOR', 'XDG_CONFIG_HOME', 'AGENTAUTH_AUDIT_LOG']) {
      expect(() => validateEnvName(name, '--env'), name).toThrow(expect.objectContaining({ code: 'RESERVED_ENV_NAME', kind: 'usage', message: expect.stringContaining(name) }));
    }
    expect(() => validateEnvName('HTTPS_PROXY', '--env')).toThrow(/agentauth run sets itself/);
  });

  it('takes the names clients read their keys from', () => {
    for (const name of ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'GITHUB_TOKEN', 'NPM_TOKEN', 'NODE_AUTH_TOKEN', 'GH_TOKEN']) expect(validateEnvName(name, '--env')).toBe(name);
  });
});
