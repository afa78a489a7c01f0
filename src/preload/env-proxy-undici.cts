// The heavy half of env-proxy.cts, loaded on a process's first request:
// undici's EnvHttpProxyAgent for fetch, and a CONNECT tunnel (undici's
// client) for the http/https modules' agents.
import tls = require('node:tls');
import net = require('node:net');
import type { Duplex } from 'node:stream';
import Dispatcher = require('undici/lib/dispatcher/dispatcher.js');
import api = require('undici/lib/api/index.js');
import EnvHttpProxyAgent = require('undici/lib/dispatcher/env-http-proxy-agent.js');
import Client = require('undici/lib/dispatcher/client.js');

// What undici's index does for its dispatchers: the request/connect methods.
Object.assign(Dispatcher.prototype, api);

function createEnvDispatcher(): unknown {
  return new EnvHttpProxyAgent();
}

const clients = new Map<string, Client>();

function connectThroughProxy(proxy: string, options: { host: string; port: number; servername?: string } & tls.ConnectionOptions, secure: boolean, callback: (error: Error | null, socket?: Duplex) => void): void {
  const url = new URL(proxy);
  const origin = url.origin;
  let client = clients.get(origin);
  if (!client) {
    client = new Client(origin);
    clients.set(origin, client);
  }
  const headers: Record<string, string> = {};
  if (url.username || url.password) headers['proxy-authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  const authority = net.isIP(options.host) === 6 ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  client.connect({ path: authority, headers: { ...headers, host: authority } }).then(
    ({ socket, statusCode }: { socket: Duplex; statusCode: number }) => {
      if (statusCode !== 200) {
        socket.destroy();
        callback(new Error(`the proxy refused CONNECT ${authority} (${statusCode})`));
        return;
      }
      if (!secure) return callback(null, socket);
      const servername = options.servername ?? (net.isIP(options.host) === 0 ? options.host : undefined);
      const secureSocket = tls.connect({ ...options, socket, ...(servername ? { servername } : {}) });
      callback(null, secureSocket);
    },
    (error: Error) => callback(error),
  );
}

export = { createEnvDispatcher, connectThroughProxy };
