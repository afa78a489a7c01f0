// Building event and checkpoint lines: JCS canonical JSON (RFC 8785), integers only.
import canonicalize from 'canonicalize';
import { AgentAuthError, internalError } from '../errors.js';

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

/** An event as queued for the log: its kind, and its line's head as UTF-8 (see serializeEvent). */
export interface PreparedEvent {
  kind: string;
  head: Buffer;
  /** Kept where known: the writer attributes a log.init or log.recover it adds to the first event's actor. */
  actor?: Record<string, unknown>;
}

export function prepareEvent(event: AuditEventInput): PreparedEvent {
  return { kind: event.kind, head: Buffer.from(serializeEventHead(event), 'utf8'), actor: event.actor };
}

export const CHECKPOINT_PREFIX = '{"kind":"checkpoint",';
const KIND = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/;

/**
 * The canonical line of an event. Its keys in RFC 8785 order are actor, data,
 * kind, log, prev, seq, ts, v: the first three are the event itself, the
 * rest say where it lands in the log. So a line is built in two parts: the
 * head when the event is queued, the tail under the log's lock.
 */
export function serializeEvent(event: AuditEvent): string {
  return serializeEventHead(event) + serializeEventTail(JSON.stringify(event.log), event.prev, event.seq, event.ts);
}

/** `{"actor":…,"data":…,"kind":"…",`: validated, canonical, and complete but for the tail. */
export function serializeEventHead(event: AuditEventInput): string {
  if (!KIND.test(event.kind)) throw invalidEvent(`event kind "${event.kind}" is not a dotted lower-case name`);
  // Both are always inspected: the checks must run even when the first is out of order.
  const actorSorted = inspectJson(event.actor, 'actor');
  const dataSorted = inspectJson(event.data, 'data');
  const actor = actorSorted ? JSON.stringify(event.actor) : canonicalLine(event.actor);
  const data = dataSorted ? JSON.stringify(event.data) : canonicalLine(event.data);
  return `{"actor":${actor},"data":${data},"kind":"${event.kind}",`;
}

/** `"log":…,"prev":…,"seq":…,"ts":…,"v":1}`; `logJson` is the origin already as a JSON string. */
export function serializeEventTail(logJson: string, prev: string | null, seq: number, ts: string): string {
  return `"log":${logJson},"prev":${prev === null ? 'null' : `"${prev}"`},"seq":${seq},"ts":"${ts}","v":1}`;
}

export function serializeCheckpoint(checkpoint: CheckpointLine): string {
  return canonicalLine(checkpoint);
}

/** RFC 8785 through the `canonicalize` package: the reference, and the path for anything not already in order. */
export function canonicalLine(value: object): string {
  const text = canonicalize(value);
  if (text === undefined) throw invalidEvent('the audit line could not be serialised');
  return text;
}

/*
 * The fast path. For the values an audit line may hold (strings, safe
 * integers, booleans, null, arrays and plain objects; checked below), RFC 8785
 * output IS JSON.stringify's output once every object's keys come in UTF-16
 * code-unit order: JCS borrows ECMAScript's string and number serialisation.
 * JSON.stringify emits keys in Object.keys order, so when that order is
 * already sorted (the writer and the gateway build their events that way)
 * one native call replaces the package's per-key work, at about a third of
 * the cost. Anything else goes to the package. A test compares both on
 * random values. (The top level needs no check: serializeEvent writes its
 * keys in order by construction.)
 */

/** Throws on what an audit event cannot hold; returns whether every object's keys are already in canonical order. */
function inspectJson(value: unknown, path: string): boolean {
  if (typeof value === 'string') {
    assertWellFormed(value, path);
    return true;
  }
  if (value === null || typeof value === 'boolean') return true;
  if (typeof value === 'number') {
    // The spec allows no floats (their JCS form is not obvious to every implementation).
    if (!Number.isSafeInteger(value)) throw invalidEvent(`${path} is ${value}; audit events hold integers only`);
    return true;
  }
  if (Array.isArray(value)) {
    let sorted = true;
    for (let i = 0; i < value.length; i += 1) sorted = inspectJson(value[i], `${path}[${i}]`) && sorted;
    return sorted;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    let sorted = true;
    let previous: string | null = null;
    for (const key in record) {
      assertWellFormed(key, `${path} key`);
      if (previous !== null && !(previous < key)) sorted = false;
      previous = key;
      const item = record[key];
      if (item !== undefined) sorted = inspectJson(item, `${path}.${key}`) && sorted;
    }
    return sorted;
  }
  throw invalidEvent(`${path} is a ${typeof value}, which an audit event cannot hold`);
}

// RFC 8785 wants valid Unicode (I-JSON); JSON.stringify would quietly escape a lone surrogate instead.
function assertWellFormed(text: string, path: string): void {
  if (!text.isWellFormed()) throw invalidEvent(`${path} holds a lone UTF-16 surrogate, which canonical JSON cannot carry`);
}

function invalidEvent(message: string): AgentAuthError {
  return internalError('BAD_AUDIT_EVENT', message);
}
