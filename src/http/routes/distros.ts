import type { FastifyInstance } from 'fastify';
import { isRhevbootError } from '../../errors.js';
import type { ImportOutcome } from '../../media/distros.js';
import type { Services } from '../../services.js';
import type { ApiDistro, ApiImportDone, ApiImportStarted } from '../api-types.js';
import { errorBodySchema } from '../errors.js';

export const distroSchema = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    arch: { type: 'string' },
    family: { type: 'string' },
    version: { type: 'string' },
    volumeId: { type: 'string' },
    sourcePath: { type: 'string' },
    isoSha256: { type: 'string' },
    isoBytes: { type: 'integer' },
    fileCount: { type: 'integer' },
    bytes: { type: 'integer' },
    treePath: { type: 'string' },
    kernel: { type: 'string' },
    initrd: { type: 'string' },
    pxeInitrd: { type: 'string' },
    pxeInitrdSha256: { type: 'string' },
    pxeInitrdBytes: { type: 'integer' },
    importedAt: { type: 'string' },
    durationMs: { type: 'integer' },
  },
} as const;

const nameParams = { type: 'object', properties: { name: { type: 'string', maxLength: 63 } }, required: ['name'] } as const;
const archQuery = { type: 'object', properties: { arch: { type: 'string', maxLength: 16 } }, additionalProperties: false } as const;

export function distroRoutes(app: FastifyInstance, services: Services): void {
  app.get<{ Reply: ApiDistro[] }>('/distros', { schema: { response: { 200: { type: 'array', items: distroSchema } } } }, () => services.distros.list());

  app.get<{ Params: { name: string }; Querystring: { arch?: string }; Reply: ApiDistro }>(
    '/distros/:name',
    { schema: { params: nameParams, querystring: archQuery, response: { 200: distroSchema, 404: errorBodySchema } } },
    (req) => services.distros.get(req.params.name, req.query.arch),
  );

  app.delete<{ Params: { name: string }; Querystring: { arch?: string }; Reply: ApiDistro }>(
    '/distros/:name',
    { schema: { params: nameParams, querystring: archQuery, response: { 200: distroSchema, 404: errorBodySchema } } },
    (req) => services.distros.remove(req.params.name, req.query.arch),
  );

  /**
   * Starts an import of an ISO that is already on the appliance (copied there by scp, or an NFS
   * mount). It runs as a job: 202 with the job id, then GET /jobs/:id for progress and outcome.
   */
  app.post<{ Body: { iso: string; name?: string; arch?: string; force?: boolean; compress?: 'none' | 'gzip' }; Reply: { 200: ApiImportDone; 202: ApiImportStarted } }>(
    '/distros',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            iso: { type: 'string', minLength: 1, maxLength: 4096 },
            name: { type: 'string', minLength: 1, maxLength: 63 },
            arch: { type: 'string', minLength: 1, maxLength: 16 },
            force: { type: 'boolean' },
            compress: { type: 'string', enum: ['none', 'gzip'] },
          },
          required: ['iso'],
          additionalProperties: false,
        },
        response: {
          202: { type: 'object', properties: { jobId: { type: 'string' }, distro: { type: 'string' } } },
          200: { type: 'object', properties: { status: { type: 'string' }, distro: distroSchema, notes: { type: 'array', items: { type: 'string' } } } },
        },
      },
    },
    async (req, reply) => {
      // Answer as soon as the job exists (or the request is refused before any work starts, or
      // there was nothing to do); the import itself goes on after the response.
      const outcome = await new Promise<ApiImportStarted | { done: ImportOutcome }>((resolve, reject) => {
        let answered = false;
        const answer = (fn: () => void): void => {
          if (!answered) (answered = true), fn();
        };
        const work = services.distros.importIso(
          { ...req.body, isoPath: req.body.iso },
          { onJob: (job) => answer(() => resolve({ jobId: job.id, distro: job.subject })), signal: services.background.signal },
        );
        services.background.track(work).then(
          (done) => answer(() => resolve({ done })),
          (err: unknown) => {
            if (answered) req.log.warn({ code: isRhevbootError(err) ? err.code : undefined, reason: (err as Error).message }, 'import job failed');
            else answer(() => reject(err));
          },
        );
      });
      if ('done' in outcome) return reply.status(200).send({ status: outcome.done.status, distro: outcome.done.distro, notes: outcome.done.notes });
      return reply.status(202).send(outcome);
    },
  );
}
