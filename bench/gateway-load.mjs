// Loopback load generator for bench/gateway.mjs: N keep-alive connections,
// each sending requests back to back for a fixed time, over raw sockets (so
// the generator is cheaper than what it measures). Runs standalone or as the
// child of `agentauth run` (then it takes the proxy and placeholder from env).
// Usage: node bench/gateway-load.mjs '<json options>'  → prints one JSON line.
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

const options = JSON.parse(process.argv[2]);
const {
  host,
  port,
  path = '/',
  https: useTls = false,
  // 'direct' | 'absolute' (absolute-form through a proxy) | 'connect' (CONNECT through a proxy)
  via = 'direct',
  connections = 32,
  durationMs = 5000,
  warmupMs = 1000,
  ca,
  ttfb = false,
  samples = 200,
} = options;
const proxyUrl = options.proxy ?? (options.envProxy ? process.env.HTTPS_PROXY : undefined);
const key = options.key ?? (options.keyEnv ? process.env[options.keyEnv] : '');
const proxy = proxyUrl ? new URL(proxyUrl) : null;
const proxyAuth = proxy && proxy.password ? `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}` : null;
const caPem = ca ? readFileSync(ca, 'utf8') : undefined;
const authority = `${host}:${port}`;
const target = via === 'absolute' ? `${useTls ? 'https' : 'http'}://${authority}${path}` : path;
const request = Buffer.from(
  `GET ${target} HTTP/1.1\r\nHost: ${authority}\r\nAuthorization: Bearer ${key}\r\n${via === 'absolute' && proxyAuth ? `Proxy-Authorization: ${proxyAuth}\r\n` : ''}\r\n`,
);

/** Incremental HTTP/1.1 response reader (Content-Length or chunked). */
function createReader(socket) {
  let buffer = Buffer.alloc(0);
  let waiting = null;
  let firstByte = null;
  const tryParse = () => {
    if (!waiting) return;
    const end = buffer.indexOf('\r\n\r\n');
    if (end === -1) return;
    const head = buffer.subarray(0, end).toString('latin1');
    const status = Number(head.slice(9, 12));
    const lengthMatch = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let consumed = -1;
    if (waiting.headOnly) consumed = end + 4;
    else if (lengthMatch) {
      const total = end + 4 + Number(lengthMatch[1]);
      if (buffer.length >= total) consumed = total;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      let at = end + 4;
      for (;;) {
        const lineEnd = buffer.indexOf('\r\n', at);
        if (lineEnd === -1) break;
        const size = parseInt(buffer.subarray(at, lineEnd).toString('latin1'), 16);
        if (size === 0) {
          if (buffer.length >= lineEnd + 4) consumed = lineEnd + 4;
          break;
        }
        if (buffer.length < lineEnd + 2 + size + 2) break;
        at = lineEnd + 2 + size + 2;
      }
    } else consumed = end + 4;
    if (consumed === -1) return;
    buffer = buffer.subarray(consumed);
    const done = waiting;
    waiting = null;
    done.resolve({ status, firstByte });
  };
  socket.on('data', (chunk) => {
    if (firstByte === null) firstByte = performance.now();
    buffer = Buffer.concat([buffer, chunk]);
    tryParse();
  });
  socket.on('error', (error) => waiting?.reject(error));
  socket.on('close', () => waiting?.reject(new Error('closed')));
  return {
    next(headOnly = false) {
      firstByte = null;
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject, headOnly };
        tryParse();
      });
    },
  };
}

async function open() {
  let socket;
  if (via === 'direct') socket = net.connect({ host, port, noDelay: true });
  else socket = net.connect({ host: proxy.hostname, port: Number(proxy.port), noDelay: true });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  if (via === 'connect') {
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${proxyAuth ? `Proxy-Authorization: ${proxyAuth}\r\n` : ''}\r\n`);
    const head = await new Promise((resolve, reject) => {
      let data = Buffer.alloc(0);
      const onData = (chunk) => {
        data = Buffer.concat([data, chunk]);
        if (data.includes('\r\n\r\n')) {
          socket.off('data', onData);
          resolve(data.toString('latin1'));
        }
      };
      socket.on('data', onData).once('error', reject);
    });
    if (!/^HTTP\/1\.[01] 200/.test(head)) throw new Error(`CONNECT refused: ${head.split('\r\n')[0]}`);
  }
  if (useTls && via !== 'absolute') {
    socket = tls.connect({ socket, host, ...(caPem ? { ca: caPem } : {}), ...(net.isIP(host) ? {} : { servername: host }), ALPNProtocols: ['http/1.1'] });
    await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  }
  return socket;
}

async function runLoad() {
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const deadline = measureFrom + durationMs;
  const latencies = [];
  let errors = 0;
  let statusErrors = 0;
  const worker = async () => {
    let socket = await open();
    let reader = createReader(socket);
    while (performance.now() < deadline) {
      const t0 = performance.now();
      socket.write(request);
      try {
        const { status } = await reader.next();
        if (status !== 200) statusErrors += 1;
        if (t0 >= measureFrom) latencies.push(performance.now() - t0);
      } catch {
        errors += 1;
        socket.destroy();
        socket = await open();
        reader = createReader(socket);
      }
    }
    socket.destroy();
  };
  let rssMaxKiB = 0;
  // The proxy's resident set: our parent when we run under `agentauth run`, else a given pid.
  const rssPid = options.rssOfParent ? process.ppid : (options.rssPid ?? null);
  const sampler = rssPid
    ? setInterval(() => {
        try {
          rssMaxKiB = Math.max(rssMaxKiB, readStatusKiB(rssPid, 'VmRSS') ?? 0);
        } catch {
          // not Linux: no figure
        }
      }, 100)
    : null;
  // The proxy's CPU time over the measured window (user + system, clock ticks):
  // steadier than req/s on a shared machine, and what a busy Pi pays per request.
  let cpuStart = null;
  let cpuEnd = null;
  const cpuTimer = rssPid ? setTimeout(() => (cpuStart = readCpuTicks(rssPid)), Math.max(0, measureFrom - performance.now())) : null;
  const cpuEndTimer = rssPid ? setTimeout(() => (cpuEnd = readCpuTicks(rssPid)), Math.max(0, deadline - performance.now())) : null;
  await Promise.all(Array.from({ length: connections }, worker));
  if (sampler) clearInterval(sampler);
  clearTimeout(cpuTimer);
  clearTimeout(cpuEndTimer);
  cpuEnd ??= rssPid ? readCpuTicks(rssPid) : null;
  // The kernel's high-water mark: the true peak since the proxy started (set-up and earlier rounds included).
  const hwmKiB = readStatusKiB(rssPid, 'VmHWM');
  latencies.sort((a, b) => a - b);
  const pick = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  // Linux USER_HZ is 100: one tick is 10 ms.
  const cpuUsPerRequest = cpuStart !== null && cpuEnd !== null && latencies.length > 0 ? ((cpuEnd - cpuStart) * 10_000) / latencies.length : null;
  return { requests: latencies.length, rps: latencies.length / (durationMs / 1000), p50: pick(0.5), p99: pick(0.99), errors, statusErrors, rssMaxKiB, hwmKiB, cpuUsPerRequest };
}

/** A `Vm…` line of /proc/PID/status in KiB, or null off Linux. */
function readStatusKiB(pid, field) {
  if (!pid) return null;
  try {
    const match = new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** utime + stime of a process in clock ticks, or null off Linux. */
function readCpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** Time to first body byte of an SSE response whose first event is sent at once. */
async function runTtfb() {
  const socket = await open();
  const reader = createReader(socket);
  const values = [];
  for (let i = 0; i < samples; i += 1) {
    const t0 = performance.now();
    socket.write(request);
    const { firstByte } = await reader.next();
    values.push(firstByte - t0);
  }
  socket.destroy();
  values.sort((a, b) => a - b);
  return { median: values[Math.floor(values.length / 2)], p90: values[Math.floor(values.length * 0.9)] };
}

const result = ttfb ? await runTtfb() : await runLoad();
process.stdout.write(`${JSON.stringify(result)}\n`);
