// The fuzz suite must be able to fail: the same property, run against
// gateways broken on purpose, finds each break within a few hundred cases.
// Each break is a module of the real gateway swapped for a faulty one.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkGatewayProperty } from '../../fixtures/gateway/fuzz-cases.js';
import { startFuzzWorld, type FuzzWorld } from '../../fixtures/gateway/fuzz-world.js';

const broken = vi.hoisted(() => ({ mode: 'none' as 'none' | 'wrong-header' | 'no-scrub' | 'no-decode' | 'any-path' | 'scheme-blind' | 'basic-any-user' }));

vi.mock('../../../src/core/gateway/policy.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/core/gateway/policy.js')>();
  return {
    ...real,
    decideRequest: (view: Parameters<typeof real.decideRequest>[0], secrets: Parameters<typeof real.decideRequest>[1]) => {
      if (broken.mode === 'any-path') {
        // Checks the grant against the path with its last segment cut off: `/v1/..%2fadmin` looks like `/v1`.
        const loose = secrets.map((secret) => ({ ...secret, policy: { ...secret.policy, paths: undefined, ceiling: undefined } }));
        return real.decideRequest(view, loose);
      }
      if (broken.mode === 'basic-any-user') {
        // Accepts any Basic user: decides as if it were the declared one, then sends the child's own user with the value.
        const decode = (value: string) => Buffer.from(value.slice('Basic '.length), 'base64').toString('latin1');
        let user: string | null = null;
        const headers = view.headers.map((value, i) => {
          if (i % 2 === 0 || !/^Basic /.test(value)) return value;
          const text = decode(value);
          const colon = text.indexOf(':');
          if (colon <= 0 || text.slice(0, colon) === 'x-access-token') return value;
          user = text.slice(0, colon);
          return `Basic ${Buffer.from(`x-access-token${text.slice(colon)}`, 'latin1').toString('base64')}`;
        });
        const decision = real.decideRequest({ ...view, headers }, secrets);
        if (user !== null && decision.kind === 'forward') {
          decision.headers = decision.headers.map((value, i) => (i % 2 === 1 && /^Basic /.test(value) ? `Basic ${Buffer.from(`${user}${decode(value).slice('x-access-token'.length)}`, 'latin1').toString('base64')}` : value));
        }
        return decision;
      }
      const decision = real.decideRequest(view, secrets);
      // Swaps into the declared header, and also into one nobody declared.
      if (broken.mode === 'wrong-header' && decision.kind === 'forward' && decision.swapped.length > 0) decision.headers.push('X-Debug', decision.swapped[0]!.value.toString('latin1'));
      return decision;
    },
  };
});
vi.mock('../../../src/core/gateway/scrub.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/core/gateway/scrub.js')>();
  const off = () => broken.mode === 'no-scrub';
  return {
    ...real,
    scrubHeaderValue: (value: string, rules: Parameters<typeof real.scrubHeaderValue>[1]) => (off() ? value : real.scrubHeaderValue(value, rules)),
    scrubBuffer: (data: Buffer, rules: Parameters<typeof real.scrubBuffer>[1]) => (off() ? data : real.scrubBuffer(data, rules)),
    createStreamScrubber: (rules: Parameters<typeof real.createStreamScrubber>[0]) => (off() ? real.createStreamScrubber([]) : real.createStreamScrubber(rules)),
  };
});
vi.mock('../../../src/core/gateway/content-coding.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/core/gateway/content-coding.js')>();
  return {
    ...real,
    // Reads only the last layer, as a gateway that looks at one Content-Encoding header would.
    findUndecodable: (layers: string[]) => (broken.mode === 'no-decode' ? real.findUndecodable(layers.slice(-1)) : real.findUndecodable(layers)),
    createBodyDecoder: (layers: string[]) => (broken.mode === 'no-decode' ? real.createBodyDecoder(layers.slice(-1)) : real.createBodyDecoder(layers)),
  };
});

vi.mock('../../../src/core/secrets.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/core/secrets.js')>();
  return {
    ...real,
    // A binding that forgets its scheme: http:// to an https-bound port counts as bound.
    policyBindsHost: (policy: Parameters<typeof real.policyBindsHost>[0], scheme: 'http' | 'https', host: string, port: number) =>
      real.policyBindsHost(policy, scheme, host, port) || (broken.mode === 'scheme-blind' && real.policyBindsHost(policy, scheme === 'http' ? 'https' : 'http', host, port)),
  };
});

let world: FuzzWorld;
beforeAll(async () => {
  world = await startFuzzWorld();
});
afterAll(async () => {
  broken.mode = 'none';
  await world?.close();
});

describe('the gateway fuzz suite against broken gateways', () => {
  const cases: [typeof broken.mode, RegExp][] = [
    ['wrong-header', /reached bound .*in header:x-debug/],
    ['no-scrub', /the child received/],
    ['no-decode', /the child received/],
    ['any-path', /on a path outside \/v1/],
    ['scheme-blind', /reached cleartext .*(a server it is not bound to|in clear)/],
    ['basic-any-user', /git's value reached bound .*as "user:<value>", not Basic x-access-token:<value>/],
  ];
  for (const [mode, finding] of cases) {
    it(`finds the break: ${mode}`, async () => {
      broken.mode = mode;
      const details = await checkGatewayProperty(world, { numRuns: 3000, seed: 8_2026, endOnFailure: true });
      broken.mode = 'none';
      expect(details.failed).toBe(true);
      expect(String((details.errorInstance as Error | undefined)?.message)).toMatch(finding);
    }, 120_000);
  }
});
