import { describe, expect, it } from 'vitest';
import { appendNodeRequire, buildChildEnv } from '../../../src/core/gateway/child-env.js';

const base = { port: 4321, sessionToken: 'tok.en.x', runKey: 'RUNKEY', caFile: '/ca.pem', bundleFile: '/bundle.pem', secrets: [{ name: 'api', placeholder: 'aa-ph-api-x', env: ['API_KEY', 'OTHER_KEY'], baseUrlEnv: 'API_BASE' }] };

describe('buildChildEnv', () => {
  it('replaces inherited copies in any spelling, keeps PATH/HOME/XDG_*, removes agentauth variables', () => {
    const env = buildChildEnv({
      ...base,
      inherit: true,
      parent: { PATH: '/bin', HOME: '/h', XDG_DATA_HOME: '/x', Https_Proxy: 'http://old', API_KEY: 'real-leak', AGENTAUTH_PASSPHRASE: 'p', AGENTAUTH_PASSPHRASE_FILE: '/p', AGENTAUTH_BACKEND: 'file', ALL_PROXY: 'socks5://x', OTHER: 'kept' },
    });
    expect(env['Https_Proxy']).toBeUndefined();
    expect(env['HTTPS_PROXY']).toBe('http://agent:tok.en.x@127.0.0.1:4321');
    expect(env['API_KEY']).toBe('aa-ph-api-x');
    expect(env['OTHER_KEY']).toBe('aa-ph-api-x');
    expect(env['API_BASE']).toBe('http://127.0.0.1:4321/_/RUNKEY/api');
    expect(env['PATH']).toBe('/bin');
    expect(env['HOME']).toBe('/h');
    expect(env['XDG_DATA_HOME']).toBe('/x');
    expect(env['OTHER']).toBe('kept');
    for (const gone of ['AGENTAUTH_PASSPHRASE', 'AGENTAUTH_PASSPHRASE_FILE', 'AGENTAUTH_BACKEND', 'ALL_PROXY']) expect(env[gone]).toBeUndefined();
    expect(env['NODE_EXTRA_CA_CERTS']).toBe('/ca.pem');
    expect(env['npm_config_cafile']).toBe('/bundle.pem');
    expect(JSON.stringify(env)).not.toContain('real-leak');
  });

  it('without inheritance keeps only the baseline', () => {
    const env = buildChildEnv({ ...base, inherit: false, parent: { PATH: '/bin', HOME: '/h', TERM: 'xterm', LC_ALL: 'C', SECRET_THING: 'x' } });
    expect(env['SECRET_THING']).toBeUndefined();
    expect(env['TERM']).toBe('xterm');
    expect(env['LC_ALL']).toBe('C');
  });

  it('takes loopback hosts a granted secret is bound to out of NO_PROXY, so their traffic goes through the gateway', () => {
    const env = buildChildEnv({ ...base, inherit: false, parent: {}, boundHosts: ['localhost', 'api.example.com'] });
    expect(env['NO_PROXY']).toBe('127.0.0.1,::1');
    expect(env['no_proxy']).toBe('127.0.0.1,::1');
    expect(buildChildEnv({ ...base, inherit: false, parent: {} })['NO_PROXY']).toBe('localhost,127.0.0.1,::1');
  });
});

describe('the Node preload in NODE_OPTIONS', () => {
  it("is added after the user's own options, quoted, and only once", () => {
    const env = buildChildEnv({ ...base, inherit: true, parent: { NODE_OPTIONS: '--max-old-space-size=512' }, nodePreload: '/opt/aa dist/preload/env-proxy.cjs' });
    expect(env['NODE_OPTIONS']).toBe('--max-old-space-size=512 --require "/opt/aa dist/preload/env-proxy.cjs"');
    const nested = buildChildEnv({ ...base, inherit: true, parent: { NODE_OPTIONS: env['NODE_OPTIONS'] }, nodePreload: '/opt/aa dist/preload/env-proxy.cjs' });
    expect(nested['NODE_OPTIONS']).toBe(env['NODE_OPTIONS']);
    expect(buildChildEnv({ ...base, inherit: false, parent: { NODE_OPTIONS: '--inspect' }, nodePreload: '/p.cjs' })['NODE_OPTIONS']).toBe('--require "/p.cjs"');
    expect(appendNodeRequire(undefined, '/a"b\\c.cjs')).toBe('--require "/a\\"b\\\\c.cjs"');
  });
});
