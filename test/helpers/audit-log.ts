// Shared fixtures for the audit tests: a temp dir, a log key, and a log
// written by the real writer with a controllable clock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { createLogKey, loadLogSigner, type LogSigner } from '../../src/core/audit/log-key.js';
import { appendEvents, type AppendOptions } from '../../src/core/audit/writer.js';

export interface Fixture {
  dir: string;
  file: string;
  origin: string;
  vkey: string;
  signer: LogSigner;
  options(extra?: Partial<AppendOptions>): AppendOptions;
  cleanup(): void;
}

export async function makeFixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'agentauth-audit-'));
  const origin = 'agentauth.local/test-install';
  const key = await createLogKey(origin);
  const signer = await loadLogSigner(key.privateJwk, origin);
  let clock = Date.parse('2026-11-22T12:00:00.000Z');
  return {
    dir,
    file: join(dir, 'audit.jsonl'),
    origin,
    vkey: key.vkey,
    signer,
    options: (extra = {}) => ({ origin, vkey: key.vkey, signer: () => signer, now: () => new Date((clock += 1000)), ...extra }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function mintEvent(i: number) {
  return {
    kind: 'token.mint',
    actor: { sub: 'user:tester' },
    data: { agent: `agent-${i % 3}`, aud: 'api.example.com', exp: 1795000000 + i, jti: `jti-${i}`, kid: 'kid-1', scope: 'repo:read issues:write' },
  };
}

/** A log of `count` events (seq 0 = log.init) that ends with a signed checkpoint. */
export async function writeLog(fixture: Fixture, count: number): Promise<void> {
  await appendEvents(fixture.file, [{ kind: 'log.init', actor: { sub: 'user:tester' }, data: { origin: fixture.origin, vkey: fixture.vkey } }], fixture.options());
  for (let i = 1; i < count; i++) await appendEvents(fixture.file, [mintEvent(i)], fixture.options({ forceCheckpoint: i === count - 1 }));
}

/** Bundles a TypeScript entry into one ESM file that a child process or worker thread can run. */
export async function bundleForNode(entry: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
  return outfile;
}

/** The verify worker, bundled from the sources into `dir` as the build does for dist/: a worker thread cannot run TypeScript. */
export async function buildVerifyWorker(dir: string): Promise<URL> {
  return pathToFileURL(await bundleForNode(join(import.meta.dirname, '../../src/core/audit/verify-worker.ts'), join(dir, 'verify-worker.mjs')));
}
