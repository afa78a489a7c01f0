// The processes bench/gateway.mjs measures against, each in its own process:
//   upstream <json>  HTTP + HTTPS server on 127.0.0.2 requiring the real key
//   hop <json>       a plain Node forward proxy that rewrites one header
//   hopTls <json>    the same for CONNECT: terminates TLS with the upstream's own certificate
// Each prints one JSON line with its ports when ready.
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

const [mode, json] = process.argv.slice(2);
const options = JSON.parse(json);
const BODY = Buffer.from(`${JSON.stringify({ ok: true, model: 'bench', text: 'x'.repeat(64) })}\n`);

function handle(req, res) {
  if (req.headers['authorization'] !== `Bearer ${options.key}`) {
    res.writeHead(401, { 'content-length': 0 });
    return res.end();
  }
  if (req.url === '/sse') {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('data: first\n\n');
    setTimeout(() => res.end('data: last\n\n'), 10);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
  res.end(BODY);
}

if (mode === 'upstream') {
  const plain = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, handle);
  const secure = https.createServer({ key: readFileSync(options.keyFile), cert: readFileSync(options.certFile), noDelay: true, keepAliveTimeout: 60_000 }, handle);
  await new Promise((resolve) => plain.listen(0, options.host, resolve));
  await new Promise((resolve) => secure.listen(0, options.host, resolve));
  console.log(JSON.stringify({ http: plain.address().port, https: secure.address().port }));
} else if (mode === 'hop') {
  // The minimum a credential-swapping hop must do: parse, rewrite one header, forward, stream back.
  const agent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });
  const server = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    const url = new URL(req.url);
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    if (headers['authorization'] === `Bearer ${options.placeholder}`) headers['authorization'] = `Bearer ${options.key}`;
    const upstream = http.request({ host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method: req.method, headers, agent }, (ures) => {
      res.writeHead(ures.statusCode, ures.headers);
      ures.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  console.log(JSON.stringify({ port: server.address().port }));
} else if (mode === 'hopTls') {
  // The minimum a TLS-terminating hop must do: CONNECT, TLS with a fixed certificate, parse,
  // rewrite one header, forward over a pooled TLS connection, stream back. No checks, no log.
  const agent = new https.Agent({ keepAlive: true, scheduling: 'lifo', ca: readFileSync(options.certFile) });
  const context = tls.createSecureContext({ key: readFileSync(options.keyFile), cert: readFileSync(options.certFile) });
  const targets = new WeakMap();
  const inner = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
    const { hostname, port } = targets.get(req.socket);
    const headers = { ...req.headers };
    if (headers['authorization'] === `Bearer ${options.placeholder}`) headers['authorization'] = `Bearer ${options.key}`;
    const upstream = https.request({ host: hostname, port, path: req.url, method: req.method, headers, agent }, (ures) => {
      res.writeHead(ures.statusCode, ures.headers);
      ures.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const server = http.createServer({ noDelay: true });
  server.on('connect', (req, socket, head) => {
    const target = new URL(`https://${req.url}`);
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: context, ALPNProtocols: ['http/1.1'] });
    secure.on('error', () => secure.destroy());
    targets.set(secure, { hostname: target.hostname, port: Number(target.port) });
    inner.emit('connection', secure);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  console.log(JSON.stringify({ port: server.address().port }));
} else {
  throw new Error(`unknown mode ${mode}`);
}
