import { describe, expect, it } from 'vitest';
import { canonicalHost, formatHostHeader, hostHeaderNames, isOriginForm, parseAbsoluteTarget, parseAuthority, parseBaseUrlPath } from '../../../src/core/gateway/targets.js';

describe('host names in one spelling', () => {
  it('lowercases, drops one trailing dot and brackets, writes IPv4 in dotted decimal and IPv4-mapped IPv6 as IPv4', () => {
    expect(canonicalHost('API.Example.COM.')).toBe('api.example.com');
    expect(canonicalHost('2130706434')).toBe('127.0.0.2');
    expect(canonicalHost('0x7f.0.0.2')).toBe('127.0.0.2');
    expect(canonicalHost('127.2')).toBe('127.0.0.2');
    expect(canonicalHost('[::FFFF:127.0.0.2]')).toBe('127.0.0.2');
    expect(canonicalHost('[0:0:0:0:0:0:0:1]')).toBe('::1');
    for (const bad of ['', '.', 'a..', 'exa mple.com', 'a/b']) expect(canonicalHost(bad), bad).toBeNull();
  });

  it('parses CONNECT authorities and Host headers', () => {
    expect(parseAuthority('Api.Example.com:8443', 443)).toEqual({ host: 'api.example.com', port: 8443 });
    expect(parseAuthority('example.com', 443)).toEqual({ host: 'example.com', port: 443 });
    expect(parseAuthority('[::1]:9000', 443)).toEqual({ host: '::1', port: 9000 });
    for (const bad of ['', 'host:0', 'host:70000', 'user@host:443', 'host:443/x', '[zz]:1', 'a b:1']) expect(parseAuthority(bad, 443), bad).toBeNull();
  });
});

describe('request targets', () => {
  it('reduces absolute-form to origin form, with the scheme and default port', () => {
    expect(parseAbsoluteTarget('http://API.example.com/v1/x?y=1')).toEqual({ scheme: 'http', host: 'api.example.com', port: 80, target: '/v1/x?y=1' });
    expect(parseAbsoluteTarget('https://api.example.com:8443')).toEqual({ scheme: 'https', host: 'api.example.com', port: 8443, target: '/' });
    expect(parseAbsoluteTarget('https://u:p@api.example.com/')).toBeNull();
    expect(parseAbsoluteTarget('ftp://api.example.com/')).toBeNull();
  });

  it('accepts only origin form inside a tunnel', () => {
    expect(isOriginForm('/v1?x')).toBe(true);
    for (const target of ['https://other/', 'other:443', '*', 'v1']) expect(isOriginForm(target), target).toBe(false);
  });

  it('reads base-URL paths: run key, secret, the rest in origin form', () => {
    expect(parseBaseUrlPath('/_/KEY/api/v1/messages?x=1')).toEqual({ runKey: 'KEY', secret: 'api', target: '/v1/messages?x=1' });
    expect(parseBaseUrlPath('/_/KEY/api')).toEqual({ runKey: 'KEY', secret: 'api', target: '/' });
    expect(parseBaseUrlPath('/_/KEY/api?x=1')).toEqual({ runKey: 'KEY', secret: 'api', target: '/?x=1' });
    for (const bad of ['/_/api', '/_//api/x', '/_/KEY/', '/x/KEY/api']) expect(parseBaseUrlPath(bad), bad).toBeNull();
  });
});

describe('Host headers against a tunnel authority', () => {
  it('match in any spelling of the same host and port, and only then', () => {
    expect(hostHeaderNames('api.example.com', 'https', 'api.example.com', 443)).toBe(true);
    expect(hostHeaderNames('API.example.com.:443', 'https', 'api.example.com', 443)).toBe(true);
    expect(hostHeaderNames('127.2:8443', 'https', '127.0.0.2', 8443)).toBe(true);
    expect(hostHeaderNames('api.example.com:8443', 'https', 'api.example.com', 443)).toBe(false);
    expect(hostHeaderNames('api.example.com', 'https', 'api.example.com', 8443)).toBe(false);
    expect(hostHeaderNames('other.example.com', 'https', 'api.example.com', 443)).toBe(false);
    expect(hostHeaderNames('localhost', 'http', 'localhost', 80)).toBe(true);
    expect(hostHeaderNames('localhost', 'http', 'localhost', 443)).toBe(false);
  });

  it('are written with the port only when it is not the default', () => {
    expect(formatHostHeader('https', 'api.example.com', 443)).toBe('api.example.com');
    expect(formatHostHeader('http', 'localhost', 11434)).toBe('localhost:11434');
    expect(formatHostHeader('https', '::1', 8443)).toBe('[::1]:8443');
  });
});
