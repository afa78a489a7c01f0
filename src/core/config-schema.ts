// The shape of config.json, checked field by field when it is loaded: a
// hand-edited or damaged file is refused with the field's path and what it
// should hold, instead of failing later somewhere inside a command. Fields
// this version does not know are left alone (a newer version may add some).

/** Why a value does not fit: the dotted path of the field and what it should be. */
export interface ConfigProblem {
  field: string;
  expected: string;
  found: string;
}

type Check = (value: unknown, field: string) => void;

class Mismatch extends Error {
  constructor(readonly problem: ConfigProblem) {
    super(`field "${problem.field}" must be ${problem.expected} (found ${problem.found})`);
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

function fail(field: string, expected: string, value: unknown): never {
  throw new Mismatch({ field, expected, found: describeValue(value) });
}

const string: Check = (value, field) => {
  if (typeof value !== 'string') fail(field, 'a string', value);
};

const count: Check = (value, field) => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(field, 'a whole number', value);
};

const positive: Check = (value, field) => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) fail(field, 'a whole number of seconds above 0', value);
};

function literal(...allowed: readonly (string | number)[]): Check {
  return (value, field) => {
    if (!allowed.includes(value as string | number)) fail(field, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, value);
  };
}

function list(item: Check): Check {
  return (value, field) => {
    if (!Array.isArray(value)) fail(field, 'a list', value);
    value.forEach((entry, i) => item(entry, `${field}[${i}]`));
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An object with these fields; `?` after a name marks an optional one. */
function object(fields: Record<string, Check>): Check {
  return (value, field) => {
    if (!isObject(value)) fail(field, 'an object', value);
    for (const [spec, check] of Object.entries(fields)) {
      const optional = spec.endsWith('?');
      const name = optional ? spec.slice(0, -1) : spec;
      const at = field ? `${field}.${name}` : name;
      if (value[name] === undefined && optional) continue;
      check(value[name], at);
    }
  };
}

/** An object keyed by name, each entry's `name` equal to its key. */
function byName(entry: Check): Check {
  return (value, field) => {
    if (!isObject(value)) fail(field, 'an object keyed by name', value);
    for (const [key, item] of Object.entries(value)) {
      entry(item, `${field}.${key}`);
      if ((item as Record<string, unknown>)['name'] !== key) fail(`${field}.${key}.name`, JSON.stringify(key), (item as Record<string, unknown>)['name']);
    }
  };
}

const strings = list(string);

/** Either check passes (e.g. a field an older version wrote in another shape). */
function either(first: Check, second: Check, expected: string): Check {
  return (value, field) => {
    try {
      first(value, field);
    } catch (error) {
      if (!(error instanceof Mismatch)) throw error;
      try {
        second(value, field);
      } catch (again) {
        if (!(again instanceof Mismatch)) throw again;
        fail(field, expected, value);
      }
    }
  };
}

const placement: Check = (value, field) => {
  if (isObject(value) && value['query'] !== undefined) return object({ query: string })(value, field);
  object({ header: string, 'format?': string })(value, field);
};

const config = object({
  schemaVersion: literal(1),
  installId: string,
  issuer: string,
  backend: literal('keychain', 'file', 'memory'),
  createdAt: string,
  keys: list(
    object({
      kid: string,
      jwk: object({ kty: literal('OKP'), crv: literal('Ed25519'), x: string, kid: string }),
      createdAt: string,
      status: literal('active', 'previous'),
      'retireAfter?': count,
    }),
  ),
  log: object({ origin: string, vkey: string }),
  agents: byName(
    object({
      name: string,
      scopes: strings,
      maxTtl: positive,
      'audiences?': strings,
      'description?': string,
      // Written only as true (agent add|update --dpop); absent otherwise.
      'dpop?': (value, field) => {
        if (value !== true) fail(field, 'true (or absent)', value);
      },
      grants: list(object({ secret: string, 'methods?': strings, 'paths?': strings })),
      createdAt: string,
      updatedAt: string,
    }),
  ),
  'secrets?': byName(
    object({
      name: string,
      hosts: strings,
      'pathPrefix?': string,
      'methods?': strings,
      // Older versions wrote one placement as header/format or query, and env as one string.
      'placements?': list(placement),
      'header?': string,
      'format?': string,
      'query?': string,
      'env?': either(string, strings, 'a list of variable names'),
      'baseUrlEnv?': string,
      'preset?': string,
      createdAt: string,
      'rotatedAt?': string,
      'rotation?': count,
    }),
  ),
  'keystoreEntries?': strings,
});

/** The first field of a parsed config.json that does not have the shape config.ts's `Config` describes, or null. */
export function findConfigProblem(value: unknown): ConfigProblem | null {
  try {
    config(value, '');
  } catch (error) {
    if (error instanceof Mismatch) return error.problem;
    throw error;
  }
  return null;
}
