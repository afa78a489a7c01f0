// Provider presets (src/core/presets.ts): data that `secret add --preset`
// turns into a binding, with flags beside it replacing their part.
import { describe, expect, it } from 'vitest';
import { applyPreset, PRESETS } from '../../src/core/presets.js';
import { buildSecretRecord } from '../../src/core/secrets.js';

const now = new Date('2026-01-01T00:00:00Z');

describe('presets', () => {
  it('every preset makes a valid binding, and the ones the README promises are there', () => {
    for (const preset of PRESETS) expect(() => buildSecretRecord(preset.name, applyPreset(preset.name, { hosts: [] }), now), preset.name).not.toThrow();
    expect(PRESETS.map((preset) => preset.name)).toEqual(expect.arrayContaining(['anthropic', 'openai', 'github', 'gemini', 'huggingface']));
  });

  it('anthropic: x-api-key and Bearer on api.anthropic.com, ANTHROPIC_API_KEY', () => {
    const record = buildSecretRecord('anthropic', applyPreset('anthropic', { hosts: [] }), now);
    expect(record).toMatchObject({ hosts: ['api.anthropic.com'], placements: [{ header: 'x-api-key' }, { header: 'authorization', format: 'Bearer {}' }], env: ['ANTHROPIC_API_KEY'], preset: 'anthropic' });
  });

  it('github: Basic with the user x-access-token (git) beside Bearer', () => {
    const record = buildSecretRecord('github', applyPreset('github', { hosts: [] }), now);
    expect(record.placements).toContainEqual({ header: 'authorization', format: 'basic:x-access-token' });
    expect(record.env).toEqual(['GH_TOKEN', 'GITHUB_TOKEN']);
  });

  it('flags beside a preset replace their part and keep the rest', () => {
    expect(applyPreset('anthropic', { hosts: ['llm.lan:8443'] })).toMatchObject({ hosts: ['llm.lan:8443'], headers: ['x-api-key', 'authorization:Bearer {}'], env: ['ANTHROPIC_API_KEY'] });
    expect(applyPreset('anthropic', { hosts: [], headers: ['x-api-key'] })).toMatchObject({ hosts: ['api.anthropic.com'], headers: ['x-api-key'], queries: [] });
    expect(applyPreset('anthropic', { hosts: [], env: ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'] })).toMatchObject({ env: ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN'] });
    expect(applyPreset('gemini', { hosts: [], queries: ['key'] })).toMatchObject({ headers: [], queries: ['key'] });
  });

  it('an unknown preset is a usage error that names the presets', () => {
    expect(() => applyPreset('nope', { hosts: [] })).toThrow(expect.objectContaining({ kind: 'usage', code: 'UNKNOWN_PRESET', hint: expect.stringContaining('anthropic') }));
  });
});
