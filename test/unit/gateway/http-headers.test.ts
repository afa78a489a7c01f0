import { describe, expect, it } from 'vitest';
import { filterRequestHeaders, findMethodOverrides, readResponseHead, restrictAcceptEncoding, serialiseHead } from '../../../src/core/gateway/http-headers.js';
import { buildScrubRules } from '../../../src/core/gateway/scrub.js';

const VALUE = 'sk-real-value-0123456789';
const rules = buildScrubRules(Buffer.from(VALUE), 'aa-ph-x-PLACEHOLDER');

describe('request headers', () => {
  it('drop Proxy-Authorization, hop-by-hop headers and those Connection names; report Host and how many', () => {
    const out = filterRequestHeaders(['Host', 'a.example', 'Proxy-Authorization', 'Basic x', 'Connection', 'keep-alive, X-Drop', 'X-Drop', '1', 'TE', 'trailers', 'Accept', '*/*', 'host', 'b.example'], false);
    expect(out).toEqual({ headers: ['Accept', '*/*'], host: 'b.example', hostCount: 2 });
  });

  it('keep Upgrade for an upgrade (it goes upstream, so the placeholder checks see it) but not WebSocket extensions', () => {
    const raw = ['Connection', 'Upgrade', 'Upgrade', 'websocket', 'Sec-WebSocket-Extensions', 'permessage-deflate', 'Sec-WebSocket-Key', 'k'];
    expect(filterRequestHeaders(raw, true).headers).toEqual(['Upgrade', 'websocket', 'Sec-WebSocket-Key', 'k']);
    expect(filterRequestHeaders(raw, false).headers).toEqual(['Sec-WebSocket-Extensions', 'permessage-deflate', 'Sec-WebSocket-Key', 'k']);
  });

  it('narrow Accept-Encoding to codings the gateway decodes, and ask for identity when there is none', () => {
    const headers = ['Accept-Encoding', 'zstd, br;q=1, GZIP, deflate, compress'];
    restrictAcceptEncoding(headers);
    expect(headers).toEqual(['Accept-Encoding', 'br;q=1, gzip']);
    const only = ['accept-encoding', 'zstd'];
    restrictAcceptEncoding(only);
    expect(only).toEqual(['accept-encoding', 'identity']);
    const none: string[] = [];
    restrictAcceptEncoding(none);
    expect(none).toEqual(['Accept-Encoding', 'identity']);
  });

  it('find method overrides in any case', () => {
    expect(findMethodOverrides(['X-HTTP-Method-Override', 'delete', 'x-http-method', ' PUT ', 'X-Method-Override', 'PATCH', 'Accept', 'x'])).toEqual(['DELETE', 'PUT', 'PATCH']);
  });
});

describe('response heads', () => {
  it('scrub header names and values, and drop hop-by-hop headers', () => {
    const head = readResponseHead([`X-${VALUE}`, 'a', 'X-Echo', `Bearer ${VALUE}`, 'Connection', 'close, X-Hop', 'X-Hop', '1', 'Keep-Alive', 'timeout=5'], rules, { dropLength: false, dropContentEncoding: false });
    expect(head.headers).toEqual(['X-aa-ph-x-PLACEHOLDER', 'a', 'X-Echo', 'Bearer aa-ph-x-PLACEHOLDER']);
  });

  it('collect every Content-Encoding layer (headers and comma lists, identity left out) and Transfer-Encoding layers before chunked', () => {
    const head = readResponseHead(['Content-Encoding', 'identity', 'Content-Encoding', 'GZIP, br', 'Transfer-Encoding', 'gzip', 'transfer-encoding', 'chunked', 'Content-Length', '12'], rules, { dropLength: true, dropContentEncoding: true });
    expect(head).toEqual({ headers: [], length: '12', contentCodings: ['gzip', 'br'], transferCodings: ['gzip'] });
    const kept = readResponseHead(['Content-Encoding', 'gzip', 'Content-Length', '12'], rules, { dropLength: false, dropContentEncoding: false });
    expect(kept.headers).toEqual(['Content-Encoding', 'gzip', 'Content-Length', '12']);
  });

  it('trust only one plain decimal Content-Length', () => {
    const length = (raw: string[]) => readResponseHead(raw, rules, { dropLength: true, dropContentEncoding: false }).length;
    expect(length(['Content-Length', ' 42 '])).toBe('42');
    expect(length(['Content-Length', '42', 'Content-Length', '42'])).toBeUndefined();
    expect(length(['Content-Length', '4e2'])).toBeUndefined();
  });

  it('serialise for a raw socket', () => {
    expect(serialiseHead(101, 'Switching Protocols', ['Upgrade', 'websocket'])).toBe('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');
  });
});
