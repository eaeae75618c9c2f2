import type { FastifyInstance } from 'fastify';
import type { Services } from '../../services.js';
import type { ApiGroup, ApiGroupChange } from '../api-types.js';
import { errorBodySchema } from '../errors.js';

const groupSchema = { type: 'object', properties: { name: { type: 'string' }, members: { type: 'array', items: { type: 'string' } } } } as const;
const nameParams = { type: 'object', properties: { name: { type: 'string', maxLength: 64 } }, required: ['name'] } as const;
const changed = { type: 'object', properties: { group: { type: 'string' }, changed: { type: 'array', items: { type: 'string' } } } } as const;

/** Groups over the admin API: membership by noderange, the same service calls as `rhevboot group`. */
export function groupRoutes(app: FastifyInstance, services: Services): void {
  app.get<{ Reply: ApiGroup[] }>('/groups', { schema: { response: { 200: { type: 'array', items: groupSchema } } } }, () => services.groups.list());

  app.get<{ Params: { name: string }; Reply: ApiGroup }>('/groups/:name', { schema: { params: nameParams, response: { 200: groupSchema, 404: errorBodySchema } } }, (req) => services.groups.get(req.params.name));

  app.post<{ Params: { name: string }; Body: { range: string }; Reply: ApiGroupChange }>(
    '/groups/:name/members',
    {
      schema: {
        params: nameParams,
        body: { type: 'object', properties: { range: { type: 'string', minLength: 1, maxLength: 4096 } }, required: ['range'], additionalProperties: false },
        response: { 200: changed },
      },
    },
    async (req) => ({ group: req.params.name, changed: await services.groups.addMembers(req.params.name, req.body.range) }),
  );

  app.delete<{ Params: { name: string; range: string }; Reply: ApiGroupChange }>(
    '/groups/:name/members/:range',
    { schema: { params: { type: 'object', properties: { name: { type: 'string', maxLength: 64 }, range: { type: 'string', maxLength: 4096 } }, required: ['name', 'range'] }, response: { 200: changed } } },
    async (req) => ({ group: req.params.name, changed: await services.groups.removeMembers(req.params.name, req.params.range) }),
  );

  app.delete<{ Params: { name: string }; Reply: ApiGroupChange }>('/groups/:name', { schema: { params: nameParams, response: { 200: changed, 404: errorBodySchema } } }, async (req) => ({
    group: req.params.name,
    changed: await services.groups.removeMembers(req.params.name),
  }));
}
