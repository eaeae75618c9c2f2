import type { FastifyInstance } from 'fastify';
import { RhevbootError } from '../../errors.js';
import type { JobState, Store } from '../../store/store.js';
import type { ApiJob } from '../api-types.js';
import { errorBodySchema } from '../errors.js';

const jobSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    kind: { type: 'string' },
    subject: { type: 'string' },
    state: { type: 'string' },
    pid: { type: 'integer' },
    host: { type: 'string' },
    progress: { type: 'object', properties: { phase: { type: 'string' }, done: { type: 'number' }, total: { type: 'number' } } },
    params: { type: 'object', additionalProperties: true },
    result: { type: ['object', 'null'], additionalProperties: true },
    error: { type: ['object', 'null'], properties: { code: { type: 'string' }, message: { type: 'string' } } },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

export function jobRoutes(app: FastifyInstance, store: Store): void {
  app.get<{ Querystring: { kind?: string; state?: JobState; limit?: number }; Reply: ApiJob[] }>(
    '/jobs',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            kind: { type: 'string', maxLength: 64 },
            state: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed', 'interrupted'] },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
          },
          additionalProperties: false,
        },
        response: { 200: { type: 'array', items: jobSchema } },
      },
    },
    (req) => store.jobs.list(req.query),
  );

  app.get<{ Params: { id: string }; Reply: ApiJob }>(
    '/jobs/:id',
    { schema: { params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } }, response: { 200: jobSchema, 404: errorBodySchema } } },
    async (req) => {
      const job = await store.jobs.get(req.params.id);
      if (!job) throw new RhevbootError('RB_ERR_NOT_FOUND', `no job ${req.params.id}`, { id: req.params.id });
      return job;
    },
  );
}
