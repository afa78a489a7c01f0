// A JWKS fetched from a URL: refetched for an unknown kid at most once per
// 30 s, kept as Cache-Control says (max-age, Age, no-cache with ETag,
// no-store), and remembered between CLI processes through a store.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createRemoteKeySource, isPlainHttpToRemoteHost, type StoredJwks } from '../../../src/core/jwks-remote.js';
import { createTestIssuer } from '../../helpers/issuer.js';

interface FakeIssuerServer {
  url: string;
  requests: IncomingHttpHeaders[];
  set(body: unknown, headers?: Record<string, string>): void;
  close(): void;
}

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function serveJwks(): Promise<FakeIssuerServer> {
  let body = '{"keys":[]}';
  let headers: Record<string, string> = {};
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    requests.push(req.headers);
    if (headers['etag'] && req.headers['if-none-match'] === headers['etag']) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', ...headers }).end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    requests,
    set(next, nextHeaders = {}) {
      body = typeof next === 'string' ? next : JSON.stringify(next);
      headers = nextHeaders;
    },
    close: () => server.close(),
  };
}

async function twoKeys() {
  const a = await createTestIssuer();
  const b = await createTestIssuer();
  return { a, b, both: { keys: [...a.jwks.keys, ...b.jwks.keys] } };
}

describe('createRemoteKeySource', () => {
  it('fetches again for an unknown kid, but at most once per 30 s', async () => {
    const { a, b, both } = await twoKeys();
    const server = await serveJwks();
    server.set(a.jwks);
    let clock = 1_000_000;
    const source = createRemoteKeySource({ url: server.url, now: () => clock });
    await source.getKey(a.kid);
    expect(source.fetches).toBe(1);
    // The issuer rotates: a token with the new kid arrives. Within 30 s of the last fetch it must wait…
    server.set(both);
    clock += 29_000;
    await expect(source.getKey(b.kid)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(source.fetches).toBe(1);
    // …after that, the unknown kid is fetched at once, long before max-age runs out.
    clock += 1_000;
    await source.getKey(b.kid);
    expect(source.fetches).toBe(2);
    // Made-up kids do not turn into requests.
    for (let i = 0; i < 5; i++) await expect(source.getKey(`made-up-${i}`)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(source.fetches).toBe(2);
    clock += 30_000;
    await expect(source.getKey('made-up')).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(source.fetches).toBe(3);
    expect(server.requests).toHaveLength(3);
  });

  it('keeps the set for max-age minus Age, 10 minutes when the server does not say', async () => {
    const { a } = await twoKeys();
    const server = await serveJwks();
    let clock = 0;
    server.set(a.jwks, { 'cache-control': 'public, max-age=60', age: '20' });
    const source = createRemoteKeySource({ url: server.url, now: () => clock });
    await source.getKey(a.kid);
    clock = 39_000;
    await source.getKey(a.kid);
    expect(source.fetches).toBe(1);
    clock = 40_000;
    server.set(a.jwks);
    await source.getKey(a.kid);
    expect(source.fetches).toBe(2);
    clock += 599_000;
    await source.getKey(a.kid);
    expect(source.fetches).toBe(2);
    clock += 1_000;
    await source.getKey(a.kid);
    expect(source.fetches).toBe(3);
  });

  it('no-cache revalidates with the ETag (a 304 keeps the set); no-store keeps nothing', async () => {
    const { a } = await twoKeys();
    const server = await serveJwks();
    server.set(a.jwks, { 'cache-control': 'no-cache', etag: '"v1"' });
    const saved: StoredJwks[] = [];
    const store = { load: () => null, save: (entry: StoredJwks) => void saved.push(entry) };
    const source = createRemoteKeySource({ url: server.url, store });
    await source.getKey(a.kid);
    await source.getKey(a.kid);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!['if-none-match']).toBe('"v1"');
    expect(saved.map((entry) => entry.etag)).toEqual(['"v1"', '"v1"']);

    server.set(a.jwks, { 'cache-control': 'no-store' });
    const noStore = createRemoteKeySource({ url: server.url, store });
    await noStore.getKey(a.kid);
    await noStore.getKey(a.kid);
    expect(noStore.fetches).toBe(2);
    expect(saved).toHaveLength(2);
  });

  it('a stored set is used by the next process, and its fetch time still holds back refetches', async () => {
    const { a } = await twoKeys();
    const server = await serveJwks();
    server.set(a.jwks);
    let stored: StoredJwks | null = null;
    const store = { load: () => stored, save: (entry: StoredJwks) => void (stored = entry) };
    await createRemoteKeySource({ url: server.url, store }).getKey(a.kid);
    const next = createRemoteKeySource({ url: server.url, store });
    await next.getKey(a.kid);
    await expect(next.getKey('unknown')).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(next.fetches).toBe(0);
    // Another URL's entry is ignored.
    const other = createRemoteKeySource({ url: `${server.url}?other`, store });
    await other.getKey(a.kid);
    expect(other.fetches).toBe(1);
  });

  it('says why when the JWKS cannot be had', async () => {
    const server = await serveJwks();
    server.set('<html>oops</html>');
    await expect(createRemoteKeySource({ url: server.url }).getKey('k')).rejects.toMatchObject({ code: 'ERR_JWKS_INVALID' });
    server.set({ nope: true });
    await expect(createRemoteKeySource({ url: server.url }).getKey('k')).rejects.toMatchObject({ code: 'ERR_JWKS_INVALID' });
    server.close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(createRemoteKeySource({ url: server.url }).getKey('k')).rejects.toMatchObject({ code: 'ERR_JWKS_UNAVAILABLE', message: /ECONNREFUSED/ });
  });

  it('plain http:// is flagged only for hosts other than this machine', () => {
    expect(isPlainHttpToRemoteHost('http://pi.lan:8765/.well-known/jwks.json')).toBe(true);
    expect(isPlainHttpToRemoteHost('http://10.0.0.5/jwks')).toBe(true);
    expect(isPlainHttpToRemoteHost('https://pi.lan/jwks')).toBe(false);
    expect(isPlainHttpToRemoteHost('http://127.0.0.1:8765/jwks')).toBe(false);
    expect(isPlainHttpToRemoteHost('http://localhost:8765/jwks')).toBe(false);
    expect(isPlainHttpToRemoteHost('http://[::1]:8765/jwks')).toBe(false);
  });
});
