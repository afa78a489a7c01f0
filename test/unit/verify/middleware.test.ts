// The library's HTTP faces: Express middleware over a real loopback socket,
// Hono through its Fetch API, each answering 401, 403 and 200 with the
// headers RFC 6750, RFC 9449 and RFC 9728 ask for.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDpopProof, generateDpopKey, parseDpopKey, type DpopKey } from '../../../src/core/dpop.js';
import { agentauth, createVerifier, protectedResourceMetadata, resourceMetadataUrl, withAgentAuth, type AgentIdentity, type Verifier } from '../../../src/verify/index.js';
import { createTestIssuer, ISSUER, type TestIssuer } from '../../helpers/issuer.js';

let issuer: TestIssuer;
let verifier: Verifier;
let key: DpopKey;
let server: Server;
let base: string;
const METADATA = 'https://pack.lan/.well-known/oauth-protected-resource/mcp';

beforeAll(async () => {
  issuer = await createTestIssuer();
  verifier = createVerifier({ issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks });
  key = await parseDpopKey(JSON.stringify((await generateDpopKey('EdDSA')).privateJwk));
  const app = express();
  app.get('/whoami', agentauth({ verifier }), (req, res) => {
    res.json({ agent: req.agent?.agent, scopes: req.agent?.scopes });
  });
  app.post('/restart', agentauth({ verifier, scopes: ['docker:restart:nginx'] }), (req, res) => {
    res.json({ restarted: true, by: req.agent?.agent });
  });
  app.post('/mcp', agentauth({ verifier, resourceMetadata: METADATA }), (_req, res) => {
    res.json({ jsonrpc: '2.0', id: 1, result: {} });
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server?.close();
});

function wwwAuthenticate(response: Response): string {
  return response.headers.get('www-authenticate') ?? '';
}

describe('Express middleware', () => {
  it('200 and req.agent for a valid token', async () => {
    const response = await fetch(`${base}/whoami`, { headers: { authorization: `Bearer ${await issuer.mint()}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ agent: 'bot', scopes: ['docker:restart:nginx', 'email:send'] });
  });

  it('401 with a bare challenge (no error code) when there is no token', async () => {
    const response = await fetch(`${base}/whoami`);
    expect(response.status).toBe(401);
    expect(wwwAuthenticate(response)).toBe('Bearer, DPoP algs="EdDSA ES256"');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toMatchObject({ code: 'ERR_TOKEN_MISSING' });
  });

  it('401 Bearer error="invalid_token" for an expired, forged or foreign-audience token', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const [token, code] of [
      [await issuer.mint({ exp: now - 60 }), 'ERR_JWT_EXPIRED'],
      [`${(await issuer.mint()).slice(0, -4)}AAAA`, 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'],
      [await issuer.mint({ aud: 'other.lan' }), 'ERR_JWT_CLAIM_VALIDATION_FAILED'],
    ] as const) {
      const response = await fetch(`${base}/whoami`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status, code).toBe(401);
      expect(wwwAuthenticate(response)).toMatch(/^Bearer error="invalid_token", error_description="[^"]+"$/);
      expect(await response.json()).toMatchObject({ error: 'invalid_token', code });
    }
  });

  it('403 insufficient_scope naming the scope the route needs', async () => {
    const response = await fetch(`${base}/restart`, { method: 'POST', headers: { authorization: `Bearer ${await issuer.mint({ scope: 'email:send' })}` } });
    expect(response.status).toBe(403);
    expect(wwwAuthenticate(response)).toMatch(/^Bearer error="insufficient_scope", error_description="[^"]+", scope="docker:restart:nginx"$/);
    const ok = await fetch(`${base}/restart`, { method: 'POST', headers: { authorization: `Bearer ${await issuer.mint()}` } });
    expect(ok.status).toBe(200);
  });

  it('an MCP endpoint points to its RFC 9728 metadata in every 401', async () => {
    const response = await fetch(`${base}/mcp`, { method: 'POST' });
    expect(response.status).toBe(401);
    expect(wwwAuthenticate(response)).toContain(`Bearer resource_metadata="${METADATA}"`);
    const bad = await fetch(`${base}/mcp`, { method: 'POST', headers: { authorization: 'Bearer x.y.z' } });
    expect(wwwAuthenticate(bad)).toMatch(/^Bearer error="invalid_token", error_description="[^"]+", resource_metadata="https:\/\/pack\.lan\/[^"]+"$/);
    expect(resourceMetadataUrl('https://pack.lan/mcp')).toBe(METADATA);
    expect(protectedResourceMetadata({ resource: 'https://pack.lan/mcp', issuer: ISSUER })).toEqual({
      resource: 'https://pack.lan/mcp',
      authorization_servers: [ISSUER],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: ['EdDSA', 'ES256'],
    });
  });

  it('DPoP: a bound token as Bearer gets a DPoP challenge; with its proof, 200; the same proof again, invalid_dpop_proof', async () => {
    const token = await issuer.mint({ cnf: { jkt: key.jkt } });
    const asBearer = await fetch(`${base}/whoami`, { headers: { authorization: `Bearer ${token}` } });
    expect(asBearer.status).toBe(401);
    expect(wwwAuthenticate(asBearer)).toMatch(/^DPoP error="invalid_token", error_description="[^"]+", algs="EdDSA ES256"$/);
    const proof = await createDpopProof({ key, method: 'GET', url: `${base}/whoami`, token });
    const ok = await fetch(`${base}/whoami`, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
    expect(ok.status).toBe(200);
    const replay = await fetch(`${base}/whoami`, { headers: { authorization: `DPoP ${token}`, dpop: proof } });
    expect(replay.status).toBe(401);
    expect(wwwAuthenticate(replay)).toMatch(/^DPoP error="invalid_dpop_proof", error_description="[^"]+", algs="EdDSA ES256"$/);
    const missing = await fetch(`${base}/whoami`, { headers: { authorization: `DPoP ${token}` } });
    expect(await missing.json()).toMatchObject({ code: 'ERR_DPOP_PROOF_MISSING' });
  });

  it('refuses two DPoP headers and a malformed Authorization header', async () => {
    const token = await issuer.mint({ cnf: { jkt: key.jkt } });
    const proof = await createDpopProof({ key, method: 'GET', url: `${base}/whoami`, token });
    const two = await fetch(`${base}/whoami`, { headers: [['authorization', `DPoP ${token}`], ['dpop', proof], ['dpop', proof]] });
    expect(await two.json()).toMatchObject({ code: 'ERR_DPOP_PROOF_INVALID' });
    const malformed = await fetch(`${base}/whoami`, { headers: { authorization: 'Bearer a b' } });
    expect(malformed.status).toBe(401);
    expect(await malformed.json()).toMatchObject({ code: 'ERR_TOKEN_MALFORMED' });
  });
});

describe('Hono through the Fetch API', () => {
  const app = new Hono();
  const handler = (request: Request, agent: AgentIdentity) => Response.json({ agent: agent.agent, path: new URL(request.url).pathname });
  app.get('/whoami', (c) => withAgentAuth(handler, { issuer: ISSUER, audience: 'pack.lan', jwks: issuer.jwks })(c.req.raw));
  app.post('/restart', (c) => withAgentAuth(handler, { verifier, scopes: ['docker:restart:nginx'] })(c.req.raw));

  it('200, 401 and 403 with the same headers as the Node middleware', async () => {
    const ok = await app.fetch(new Request('http://pack.lan/whoami', { headers: { authorization: `Bearer ${await issuer.mint()}` } }));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ agent: 'bot', path: '/whoami' });
    const none = await app.fetch(new Request('http://pack.lan/whoami'));
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer, DPoP algs="EdDSA ES256"');
    const bad = await app.fetch(new Request('http://pack.lan/whoami', { headers: { authorization: `Bearer ${await issuer.mint({ iss: 'https://evil.test' })}` } }));
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
    const forbidden = await app.fetch(new Request('http://pack.lan/restart', { method: 'POST', headers: { authorization: `Bearer ${await issuer.mint({ scope: 'email:send' })}` } }));
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="docker:restart:nginx"/);
  });

  it('DPoP through verifyRequest uses the request URL for htu', async () => {
    const token = await issuer.mint({ cnf: { jkt: key.jkt } });
    const proof = await createDpopProof({ key, method: 'POST', url: 'http://pack.lan/restart', token });
    const ok = await app.fetch(new Request('http://pack.lan/restart', { method: 'POST', headers: { authorization: `DPoP ${token}`, dpop: proof } }));
    expect(ok.status).toBe(200);
    const elsewhere = await createDpopProof({ key, method: 'POST', url: 'http://pack.lan/other', token });
    const wrong = await app.fetch(new Request('http://pack.lan/restart', { method: 'POST', headers: { authorization: `DPoP ${token}`, dpop: elsewhere } }));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_dpop_proof"/);
  });
});
