import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/core/config.js';

const valid = {
  schemaVersion: 1,
  installId: 'abc',
  issuer: 'https://issuer.test',
  backend: 'file',
  createdAt: '2026-01-01T00:00:00.000Z',
  keys: [{ kid: 'k1', jwk: { kty: 'OKP', crv: 'Ed25519', x: 'xx', kid: 'k1', alg: 'EdDSA', use: 'sig' }, createdAt: '2026-01-01T00:00:00.000Z', status: 'active' }],
  log: { origin: 'agentauth.local/abc', vkey: 'agentauth.local/abc+00000000+AA==' },
  agents: { bot: { name: 'bot', scopes: ['repo:read'], maxTtl: 3600, grants: [{ secret: 's', methods: ['GET'] }], createdAt: 'x', updatedAt: 'x' } },
  secrets: { s: { name: 's', hosts: ['api.example.com'], header: 'X-Key', createdAt: 'x' } },
  keystoreEntries: ['log-key'],
  laterField: { kept: true },
};

describe('config.json on load', () => {
  it('takes a well-formed config (and fields a newer version added), and fills what older versions left out', () => {
    expect(parseConfig(JSON.stringify(valid), 'c.json').agents['bot']?.maxTtl).toBe(3600);
    const { secrets, keystoreEntries, ...old } = valid;
    void secrets;
    void keystoreEntries;
    const parsed = parseConfig(JSON.stringify(old), 'c.json');
    expect(parsed.secrets).toEqual({});
    expect(parsed.keystoreEntries).toEqual([]);
  });

  it('names the field, what it should hold and the file when a type is wrong (exit 4)', () => {
    const cases: [(c: any) => void, string, string][] = [
      [(c) => (c.agents.bot.scopes = 'repo:read'), 'agents.bot.scopes', 'a list'],
      [(c) => (c.agents.bot.maxTtl = '1h'), 'agents.bot.maxTtl', 'a whole number of seconds above 0'],
      [(c) => (c.agents.bot.maxTtl = 0), 'agents.bot.maxTtl', 'a whole number of seconds above 0'],
      [(c) => (c.agents.bot.grants[0].methods = 'GET'), 'agents.bot.grants[0].methods', 'a list'],
      [(c) => (c.agents.bot.name = 'other'), 'agents.bot.name', '"bot"'],
      [(c) => (c.backend = 'cloud'), 'backend', 'one of "keychain", "file", "memory"'],
      [(c) => (c.keys[0].status = 'old'), 'keys[0].status', 'one of "active", "previous"'],
      [(c) => (c.keys[0].retireAfter = 1.5), 'keys[0].retireAfter', 'a whole number'],
      [(c) => (c.secrets.s.hosts = null), 'secrets.s.hosts', 'a list'],
      [(c) => delete c.log.vkey, 'log.vkey', 'a string'],
      [(c) => (c.keystoreEntries = [1]), 'keystoreEntries[0]', 'a string'],
    ];
    for (const [change, field, expected] of cases) {
      const config = structuredClone(valid);
      change(config);
      expect(() => parseConfig(JSON.stringify(config), '/home/u/.config/agentauth/config.json'), field).toThrow(
        expect.objectContaining({ code: 'CORRUPT_CONFIG', kind: 'keystore', message: expect.stringContaining(`/home/u/.config/agentauth/config.json is damaged: field "${field}" must be ${expected}`) }),
      );
    }
  });
});
