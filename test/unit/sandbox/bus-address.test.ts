import { describe, expect, it } from 'vitest';
import { parseBusAddress } from '../../../src/core/sandbox/bus-address.js';

describe('parseBusAddress', () => {
  it('finds socket files, unescaped, in every entry', () => {
    expect(parseBusAddress('unix:path=/run/user/1000/bus')).toEqual({ paths: ['/run/user/1000/bus'], unreachable: [] });
    expect(parseBusAddress('unix:path=/tmp/dbus-55GIm63Ey0,guid=99c8a1a3;unix:path=/tmp/with%20space')).toEqual({ paths: ['/tmp/dbus-55GIm63Ey0', '/tmp/with space'], unreachable: [] });
  });

  it('reports abstract sockets and TCP, which no mount can hide', () => {
    const parts = parseBusAddress('unix:abstract=/tmp/dbus-XyZ,guid=1;tcp:host=localhost,port=4242');
    expect(parts.paths).toEqual([]);
    expect(parts.unreachable).toEqual(['unix:abstract=/tmp/dbus-XyZ,guid=1', 'tcp:host=localhost,port=4242']);
  });

  it('ignores what names no endpoint of its own, and garbage', () => {
    expect(parseBusAddress('')).toEqual({ paths: [], unreachable: [] });
    expect(parseBusAddress('unix:runtime=yes;autolaunch:;launchd:env=DBUS_LAUNCHD_SESSION_BUS_SOCKET;nonsense')).toEqual({ paths: [], unreachable: [] });
  });
});
