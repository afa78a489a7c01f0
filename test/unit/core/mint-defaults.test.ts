// The mint path's defaults and refusals (issue 13, items 4 and 6): pure policy, no keystore.
import { describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../../src/core/config.js';
import { AgentAuthError } from '../../../src/core/errors.js';
import { checkMintPolicy, describeMintRefusal } from '../../../src/core/tokens.js';

const base: AgentRecord = { name: 'bot', scopes: ['docker:restart:*', 'docker:ps', 'mail:send'], maxTtl: 3600, grants: [], createdAt: '', updatedAt: '' };
const ISSUER = 'https://issuer.test';

describe('default scopes', () => {
  it('are the concrete ones: a wildcard never reaches a token unless asked for', () => {
    expect(checkMintPolicy({ agent: base, issuer: ISSUER, aud: 'a' }).scopes).toEqual(['docker:ps', 'mail:send']);
    expect(checkMintPolicy({ agent: base, issuer: ISSUER, aud: 'a', scopes: ['docker:restart:*'] }).scopes).toEqual(['docker:restart:*']);
  });

  it('an agent with only wildcards must name a scope (usage, exit 2)', () => {
    const agent = { ...base, scopes: ['docker:restart:*', '*'] };
    expect(() => checkMintPolicy({ agent, issuer: ISSUER, aud: 'a' })).toThrow(expect.objectContaining({ code: 'SCOPE_REQUIRED', kind: 'usage', hint: expect.stringContaining('--scope docker:restart:NAME') }));
    expect(checkMintPolicy({ agent, issuer: ISSUER, aud: 'a', scopes: ['docker:restart:nginx'] }).scopes).toEqual(['docker:restart:nginx']);
  });
});

describe('default audience', () => {
  it('is the one allowed audience; with none or several, --aud is required', () => {
    expect(checkMintPolicy({ agent: { ...base, audiences: ['pack.lan'] }, issuer: ISSUER }).aud).toBe('pack.lan');
    expect(() => checkMintPolicy({ agent: { ...base, audiences: ['a', 'b'] }, issuer: ISSUER })).toThrow(expect.objectContaining({ code: 'AUDIENCE_REQUIRED', kind: 'usage', hint: expect.stringContaining('a, b') }));
    expect(() => checkMintPolicy({ agent: base, issuer: ISSUER })).toThrow(expect.objectContaining({ code: 'AUDIENCE_REQUIRED' }));
  });
});

describe('refusal events', () => {
  it('name the agent, what was asked and why, and nothing else', () => {
    const request = { agent: base, issuer: ISSUER, aud: 'evil.lan', scopes: ['root:*'], ttlSeconds: 60 };
    let error: AgentAuthError | undefined;
    try {
      checkMintPolicy(request);
    } catch (caught) {
      error = caught as AgentAuthError;
    }
    expect(describeMintRefusal(request, error!)).toEqual({ agent: 'bot', aud: 'evil.lan', scope: 'root:*', ttl: 60, reason: 'SCOPE_NOT_ALLOWED', message: 'agent "bot" may not hold "root:*"' });
  });
});
