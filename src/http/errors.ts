import type { FastifyError, FastifyInstance } from 'fastify';
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

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (isRhevbootError(err)) {
      const status = httpStatusFor(err.code);
      if (status >= 500) req.log.error({ err }, 'request failed');
      return reply.status(status).send({ error: { code: err.code, message: err.message, details: err.details } } satisfies ApiErrorBody);
    }
    if (err.validation) {
      return reply.status(ERRORS.RB_ERR_INVALID.status).send({ error: { code: 'RB_ERR_INVALID', message: `invalid request: ${err.message}` } } satisfies ApiErrorBody);
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
