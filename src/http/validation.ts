import { Ajv, type Options } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

/** fastify's own ajv settings (@fastify/ajv-compiler), less the coercion, which differs per part. */
const COMMON: Options = {
  removeAdditional: false,
  useDefaults: true,
  addUsedSchema: false,
  // One error, not all: allErrors on hostile input is a known way to make ajv work hard.
  allErrors: false,
};

/**
 * Request validation with two ajv instances, chosen by the part of the request. Query strings,
 * path parameters and headers are text on the wire, so their numbers and booleans must be coerced
 * (`?limit=10`, `?force=true`). JSON bodies carry their own types, and coercing them turned a
 * caller's mistake into something else: `"name": ["a"]` became "a", a string became a list, a
 * number became a password. Bodies are validated as sent, and a wrong type is a 400 naming the
 * field.
 */
export function requestValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const text = new Ajv({ ...COMMON, coerceTypes: 'array' });
  const json = new Ajv({ ...COMMON, coerceTypes: false });
  return ({ schema, httpPart }) => (httpPart === 'body' ? json : text).compile(schema as object);
}
