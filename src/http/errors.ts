import type { FastifyError, FastifyInstance, FastifySchemaValidationError } from 'fastify';
import { ERRORS, httpStatusFor, isRhevbootError } from '../errors.js';
import type { ApiErrorBody } from './api-types.js';

export const errorBodySchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object', additionalProperties: true } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

/** Where a validation error is: `nodes.0.name` (the field ajv names; else the object holding it). */
function fieldOf(e: FastifySchemaValidationError): string {
  const at = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const p = e.params as { missingProperty?: string; additionalProperty?: string };
  return [at, p.missingProperty ?? p.additionalProperty].filter(Boolean).join('.');
}

/**
 * Validation messages that name the field: ajv's own say "body must NOT have additional
 * properties" without saying which, and "must have required property" at the object's path.
 */
export function namingFieldErrors(errs: FastifySchemaValidationError[], dataVar: string): Error {
  const e = errs[0]!;
  const path = [dataVar, fieldOf(e)].filter(Boolean).join('.');
  if (e.keyword === 'required') return new Error(`${path} is required`);
  if (e.keyword === 'additionalProperties') return new Error(`${path} is not a known field`);
  return new Error(`${path} ${e.message ?? 'is invalid'}`);
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setSchemaErrorFormatter(namingFieldErrors);
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (isRhevbootError(err)) {
      const status = httpStatusFor(err.code);
      if (status >= 500) req.log.error({ err }, 'request failed');
      return reply.status(status).send({ error: { code: err.code, message: err.message, details: err.details } } satisfies ApiErrorBody);
    }
    if (err.validation) {
      // The field as the service errors name theirs (details.field), and where it was sent.
      const first = err.validation[0];
      const details = { field: first ? fieldOf(first) : '', in: err.validationContext ?? '' };
      return reply.status(ERRORS.RB_ERR_INVALID.status).send({ error: { code: 'RB_ERR_INVALID', message: `invalid request: ${err.message}`, details } } satisfies ApiErrorBody);
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      // fastify's own 4xx (bad JSON, body too large, unsupported media type) keep their status.
      return reply.status(err.statusCode).send({ error: { code: err.code ?? 'RB_ERR_INVALID', message: err.message } } satisfies ApiErrorBody);
    }
    req.log.error({ err }, 'unexpected error');
    return reply.status(ERRORS.RB_ERR_INTERNAL.status).send({ error: { code: 'RB_ERR_INTERNAL', message: 'internal error; see the appliance log' } } satisfies ApiErrorBody);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(ERRORS.RB_ERR_NOT_FOUND.status).send({ error: { code: 'RB_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } } satisfies ApiErrorBody),
  );
}
