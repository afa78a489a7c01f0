import { describe, expect, it } from 'vitest';
import { describeUpstreamFailure, renderProblem } from '../../../src/core/gateway/replies.js';

describe('problem documents', () => {
  it('follow RFC 9457 and carry a provider-style error for SDKs', () => {
    expect(JSON.parse(renderProblem(403, 'not-granted', 'POST here is outside the grant'))).toEqual({
      type: 'https://agentauth.dev/problems/not-granted',
      title: 'Outside the grant',
      status: 403,
      detail: 'POST here is outside the grant',
      reason: 'not-granted',
      error: { type: 'permission_error', message: 'agentauth: POST here is outside the grant' },
    });
    expect(JSON.parse(renderProblem(407, 'proxy-auth-required', 'x')).error.type).toBe('authentication_error');
    expect(JSON.parse(renderProblem(401, 'run-key-required', 'x')).error.type).toBe('authentication_error');
    expect(JSON.parse(renderProblem(502, 'undecodable-response', 'x')).error.type).toBe('api_error');
    expect(JSON.parse(renderProblem(400, 'duplicate-host', 'x')).error.type).toBe('invalid_request_error');
  });

  it('name why an upstream could not be used', () => {
    expect(describeUpstreamFailure(Object.assign(new Error('x'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }), 'h:1').reason).toBe('upstream-tls-unverified');
    expect(describeUpstreamFailure(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'h:1').reason).toBe('upstream-unreachable');
    expect(describeUpstreamFailure(new Error('parse'), 'h:1').reason).toBe('upstream-bad-response');
  });
});
