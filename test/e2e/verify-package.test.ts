// agentauth/verify as a consumer installs it: the package's exports map,
// the runtime-neutral bundle, and the shipped type declarations checked by tsc.
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'agentauth-consumer-'));
  mkdirSync(join(work, 'node_modules/@types'), { recursive: true });
  symlinkSync(REPO_ROOT, join(work, 'node_modules/agentauth'));
  for (const dep of ['express', 'jose']) symlinkSync(join(REPO_ROOT, 'node_modules', dep), join(work, 'node_modules', dep));
  for (const types of ['express', 'node', 'express-serve-static-core', 'serve-static', 'qs', 'range-parser', 'body-parser', 'connect', 'send', 'mime', 'http-errors']) {
    try {
      symlinkSync(join(REPO_ROOT, 'node_modules/@types', types), join(work, 'node_modules/@types', types));
    } catch {
      // not every version of @types/express needs all of these
    }
  }
  writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(
    join(work, 'tsconfig.json'),
    // skipLibCheck keeps this fast (express's types are large); the declarations themselves are checked apart, below.
    JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, lib: ['ES2022', 'DOM'], types: ['node'], skipLibCheck: true } }),
  );
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');

describe('the agentauth/verify package', () => {
  it('type-checks a consumer (Express, Fetch, errors) against the shipped .d.ts, and catches a misuse', async () => {
    writeFileSync(
      join(work, 'service.ts'),
      `import express from 'express';
import { agentauth, createVerifier, withAgentAuth, VerifyError, protectedResourceMetadata, type AgentIdentity } from 'agentauth/verify';
const verifier = createVerifier({ issuer: 'http://pi.lan:8765', audience: 'pack.lan', agents: ['home-monitor'], dpop: { required: false } });
const app = express();
app.get('/x', agentauth({ verifier, scopes: ['a:b'] }), (req, res) => {
  const agent: AgentIdentity | undefined = req.agent;
  res.json({ name: agent?.agent, scopes: agent?.scopes.join(' ') });
});
export const GET = withAgentAuth((request: Request, agent: AgentIdentity) => Response.json({ who: agent.sub, url: request.url }), { verifier });
export async function check(token: string): Promise<string> {
  try {
    return (await verifier.verify(token, { scopes: ['a:b'] })).jti;
  } catch (error) {
    if (error instanceof VerifyError) return error.code;
    throw error;
  }
}
export const meta: string[] = protectedResourceMetadata({ resource: 'https://x/mcp', issuer: 'https://i' }).authorization_servers;
`,
    );
    const ok = await execa(process.execPath, [tsc, '-p', work], { reject: false });
    expect(ok.exitCode, ok.stdout).toBe(0);
    writeFileSync(join(work, 'misuse.ts'), `import { createVerifier } from 'agentauth/verify';\ncreateVerifier({ issuer: 'x', audience: 42 });\n`);
    const bad = await execa(process.execPath, [tsc, '-p', work], { reject: false });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stdout).toMatch(/misuse\.ts.*audience|Type 'number' is not assignable/s);
    rmSync(join(work, 'misuse.ts'));
  });

  it('its declarations compile on their own, strictly, without Node or framework types', async () => {
    const dir = join(work, 'bare');
    mkdirSync(dir);
    writeFileSync(join(dir, 'use.ts'), `import type { Verifier, AgentIdentity } from 'agentauth/verify';\nexport type Uses = [Verifier, AgentIdentity];\n`);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, lib: ['ES2022', 'DOM'], types: [], skipLibCheck: false, typeRoots: [] }, files: ['use.ts'] }),
    );
    symlinkSync(join(work, 'node_modules'), join(dir, 'node_modules'));
    const r = await execa(process.execPath, [tsc, '-p', dir], { reject: false });
    expect(r.exitCode, r.stdout).toBe(0);
  });

  it('is exported as agentauth/verify and imports nothing Node-only at load', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.exports['./verify']).toEqual({ types: './dist/types/verify/index.d.ts', default: './dist/verify.js' });
    const bundle = readFileSync(join(REPO_ROOT, 'dist/verify.js'), 'utf8');
    const staticImports = new Set([...bundle.matchAll(/^import .* from "([^"]+)";$/gm)].map((match) => match[1]));
    expect([...staticImports]).toEqual(['jose']);
    writeFileSync(join(work, 'load.mjs'), `import * as lib from 'agentauth/verify';\nconsole.log(Object.keys(lib).sort().join(' '));\n`);
    const r = await execa(process.execPath, [join(work, 'load.mjs')], { cwd: work });
    expect(r.stdout.split(' ')).toEqual(expect.arrayContaining(['VerifyError', 'agentauth', 'challengeResponse', 'createVerifier', 'protectedResourceMetadata', 'resourceMetadataUrl', 'withAgentAuth']));
  });
});
