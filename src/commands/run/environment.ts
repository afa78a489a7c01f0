// `run`, step 3: the child's environment (gateway.md, run step 3): the
// placeholders, the gateway as proxy, our CA in every trust variable on top
// of what the user already trusted, and the Node preload.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildChildEnv } from '../../core/gateway/child-env.js';
import { buildChildBundle, buildNodeExtraCerts } from '../../core/gateway/trust.js';
import type { Context } from '../context.js';
import type { RunningGateway } from './start-gateway.js';

export interface EnvironmentFlags {
  /** commander's --no-inherit-env sets this to false. */
  inheritEnv?: boolean;
}

export interface ChildEnvironment {
  env: Record<string, string>;
  /** The Node preload the child's NODE_OPTIONS names, if it could be found. */
  nodePreload: string | null;
}

/** Writes the child's CA files into a folder of the run's own (the sandbox hides agentauth's data folder) and builds its environment. */
export function prepareChildEnvironment(ctx: Context, run: RunningGateway, flags: EnvironmentFlags): ChildEnvironment {
  const dir = mkdtempSync(join(tmpdir(), 'agentauth-run-'));
  run.cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, buildNodeExtraCerts(ctx.env, run.caPem), { mode: 0o644 });
  const bundleFile = join(dir, 'ca-bundle.pem');
  writeFileSync(bundleFile, buildChildBundle(ctx.env, run.caPem), { mode: 0o644 });
  const nodePreload = findNodePreload();
  if (nodePreload === null) {
    ctx.warn('the Node preload (dist/preload/env-proxy.cjs) is missing: Node children before 22.21 will not use the gateway for fetch and https; use base-URL mode (secret add … --base-url-env VAR) for them');
  }
  const env = buildChildEnv({
    parent: ctx.env,
    inherit: flags.inheritEnv !== false,
    port: run.gateway.port,
    sessionToken: run.session.initial.token,
    runKey: run.gateway.runKey,
    caFile,
    bundleFile,
    secrets: run.secrets.map((secret) => ({
      name: secret.name,
      placeholder: secret.placeholder,
      ...(secret.record.env !== undefined ? { env: secret.record.env } : {}),
      ...(secret.record.baseUrlEnv !== undefined ? { baseUrlEnv: secret.record.baseUrlEnv } : {}),
    })),
    boundHosts: run.secrets.flatMap((secret) => secret.policy.hosts.map((pattern) => pattern.host)),
    ...(nodePreload !== null ? { nodePreload } : {}),
  });
  return { env, nodePreload };
}

/**
 * dist/preload/env-proxy.cjs, found from this module (bundled into
 * dist/main.js or a chunk under dist/chunks/). It stays where the package
 * is installed: a Node process the child starts after `run` ended still finds it.
 */
function findNodePreload(): string | null {
  for (const relative of ['./preload/env-proxy.cjs', '../preload/env-proxy.cjs']) {
    const file = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(file)) return file;
  }
  return null;
}
