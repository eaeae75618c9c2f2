import type { FastifyInstance } from 'fastify';
import type { EventService } from '../../events/events.js';
import type { ApiEvent } from '../api-types.js';

const eventSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    at: { type: 'string' },
    kind: { type: 'string' },
    subjectType: { type: 'string' },
    subject: { type: 'string' },
    message: { type: 'string' },
    data: { type: 'object', additionalProperties: true },
  },
} as const;

export function eventRoutes(app: FastifyInstance, events: EventService): void {
  app.get<{ Querystring: { subjectType?: string; subject?: string; kind?: string; afterId?: number; limit?: number }; Reply: ApiEvent[] }>(
    '/events',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            subjectType: { type: 'string', maxLength: 32 },
            subject: { type: 'string', maxLength: 255 },
            kind: { type: 'string', maxLength: 64 },
            afterId: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 10000 },
          },
          additionalProperties: false,
        },
        response: { 200: { type: 'array', items: eventSchema } },
      },
    },
    (req) => {
      const { kind, ...rest } = req.query;
      return events.list({ ...rest, ...(kind ? { kindPrefix: kind } : {}) });
    },
  );
}
