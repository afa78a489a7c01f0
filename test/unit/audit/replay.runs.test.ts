// `audit replay` and runs: run.start and run.end pair by run id, and the
// session tokens a run renews keep its grants (no false RUN_NOT_ENDED after a
// renewal; later requests still checked against the run's secrets).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replayLog } from '../../../src/core/audit/replay.js';
import { appendEvents } from '../../../src/core/audit/writer.js';
import { makeFixture, type Fixture } from '../../helpers/audit-log.js';

let fixture: Fixture;
beforeEach(async () => {
  fixture = await makeFixture();
  await appendEvents(fixture.file, [{ kind: 'log.init', actor: { sub: 'user:tester' }, data: { origin: fixture.origin, vkey: fixture.vkey } }], fixture.options());
});
afterEach(() => fixture.cleanup());

const user = { sub: 'user:tester' };
const far = 4_000_000_000;
const mint = (jti: string, run?: string) => ({ kind: 'token.mint', actor: user, data: { agent: 'coder', aud: 'urn:agentauth:gateway:x', exp: far, jti, kid: 'k', purpose: 'gateway-session', scope: '', ...(run ? { run } : {}) } });
const request = (jti: string, secret: string) => ({
  kind: 'gateway.request',
  actor: { jti, sub: 'agent:coder' },
  data: { agent: 'coder', bytes_in: 0, bytes_out: 0, decision: 'allow', host: 'api.example.com', method: 'GET', ms: 1, path: '/', port: 443, secret, status: 200 },
});

async function replay(events: object[]) {
  await appendEvents(fixture.file, events as never, fixture.options({ forceCheckpoint: true }));
  return replayLog([fixture.file], { vkey: fixture.vkey }, {}, () => {});
}

describe('replay pairs runs by run id', () => {
  it('a run whose session was renewed ends cleanly, and its later requests are still scope-checked', async () => {
    const result = await replay([
      mint('jti-1', 'run-a'),
      { kind: 'run.start', actor: user, data: { run: 'run-a', agent: 'coder', command: 'sh', secrets: ['api'], port: 1, jti: 'jti-1', sandbox: 'none' } },
      request('jti-1', 'api'),
      mint('jti-2', 'run-a'),
      request('jti-2', 'api'),
      request('jti-2', 'other'),
      { kind: 'run.end', actor: user, data: { run: 'run-a', agent: 'coder', jti: 'jti-2', exit_code: 0, ms: 1, requests: 3, denied: 0, unauthenticated: 0, sandbox: 'none' } },
    ]);
    expect(result.violations.map((violation) => violation.code)).toEqual(['OUT_OF_SCOPE']);
    expect(result.violations[0]!.message).toContain('secret other was not granted to session jti-2');
  });

  it('a run that never ended is reported by its run id; a run.fail closes nothing and is no violation', async () => {
    const result = await replay([
      mint('jti-1', 'run-a'),
      { kind: 'run.start', actor: user, data: { run: 'run-a', agent: 'coder', command: 'sh', secrets: [], port: 1, jti: 'jti-1', sandbox: 'none' } },
      mint('jti-3', 'run-b'),
      { kind: 'run.fail', actor: user, data: { run: 'run-b', agent: 'coder', command: 'nope', exit_code: 127, code: 'COMMAND_NOT_FOUND', reason: 'command not found: nope' } },
    ]);
    expect(result.violations).toHaveLength(1);
    expect(result.violations[0]).toMatchObject({ code: 'RUN_NOT_ENDED' });
    expect(result.violations[0]!.message).toContain('run run-a');
  });

  it('logs written before run ids still pair by jti', async () => {
    const result = await replay([
      mint('jti-1'),
      { kind: 'run.start', actor: user, data: { agent: 'coder', command: 'sh', secrets: ['api'], port: 1, jti: 'jti-1', sandbox: 'none' } },
      { kind: 'run.end', actor: user, data: { agent: 'coder', jti: 'jti-1', exit_code: 0, ms: 1, requests: 0, denied: 0, unauthenticated: 0, sandbox: 'none' } },
    ]);
    expect(result.violations).toEqual([]);
  });
});
