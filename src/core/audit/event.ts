// Building event and checkpoint lines: JCS canonical JSON (RFC 8785), integers only.
import canonicalize from 'canonicalize';
import { AgentAuthError, ExitCode } from '../errors.js';

export interface AuditEventInput {
  kind: string;
  actor: Record<string, unknown>;
  data: Record<string, unknown>;
}

export interface AuditEvent extends AuditEventInput {
  v: 1;
  seq: number;
  ts: string;
  log: string;
  prev: string | null;
}

export interface CheckpointLine {
  kind: 'checkpoint';
  log: string;
  note: string;
  root: string;
  size: number;
  v: 1;
}

export const CHECKPOINT_PREFIX = '{"kind":"checkpoint",';
const KIND = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/;

export function serializeEvent(event: AuditEvent): string {
  if (!KIND.test(event.kind)) throw invalidEvent(`event kind "${event.kind}" is not a dotted lower-case name`);
  assertJsonIntegers(event.actor, 'actor');
  assertJsonIntegers(event.data, 'data');
  return canonicalLine(event);
}

export function serializeCheckpoint(checkpoint: CheckpointLine): string {
  return canonicalLine(checkpoint);
}

function canonicalLine(value: object): string {
  const text = canonicalize(value);
  if (text === undefined) throw invalidEvent('the audit line could not be serialised');
  return text;
}

// The spec allows no floats (their JCS form is not obvious to every
// implementation) and nothing JSON cannot carry.
function assertJsonIntegers(value: unknown, path: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw invalidEvent(`${path} is ${value}; audit events hold integers only`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertJsonIntegers(item, `${path}[${i}]`));
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) assertJsonIntegers(item, `${path}.${key}`);
    }
    return;
  }
  throw invalidEvent(`${path} is a ${typeof value}, which an audit event cannot hold`);
}

function invalidEvent(message: string): AgentAuthError {
  return new AgentAuthError('BAD_AUDIT_EVENT', ExitCode.internal, message);
}
