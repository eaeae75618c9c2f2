// The fastify app of the simulated engine: API dispatch for both flavours (ovirt-api.md §1), auth
// (§2), SSO, the node-side servlets (§8), fault injection and the /__sim admin routes.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { Ctx, nodeToEl, Router, type EngineConfigView, type Result } from './api.js';
import type { AuthStore } from './auth.js';
import { actionFaultEl, EngineFault, faultEl } from './errors.js';
import type { Faults } from './faults.js';
import { hostRoutes } from './hosts.js';
import { nodeSideRoutes } from './register.js';
import { apiRoot, type ProductInfo, type R } from './render.js';
import { resourceRoutes } from './resources.js';
import type { EngineState } from './state.js';
import { vmRoutes } from './vms.js';
import { toJson, toXml, type El } from './xml.js';

export interface AppDeps {
  state: () => EngineState;
  auth: AuthStore;
  faults: Faults;
  cfg: EngineConfigView;
  /** Engine product version: 3.x serves only v3; 4.0–4.3 v4 + v3 on request; ≥ 4.4 v4 only (§1.2). */
  product: ProductInfo;
  /** Also serve the legacy `/api` (v3) next to `/ovirt-engine/api` on a 4.x engine (§9.1 blueprint). */
  legacyApiPath: boolean;
  tls: { key: string; cert: string } | undefined;
  caPem: () => string;
  engineCertPem: () => string;
  sshPublicKey: () => string;
  /** /__sim admin routes (JSON), for tests that run the simulator as a separate process. */
  admin?: (app: FastifyInstance) => void;
}

const CORRELATION_ID = /^[0-9a-zA-Z_-]{1,36}$/;

export function buildApp(d: AppDeps): FastifyInstance {
  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    ...(d.tls ? { https: { key: d.tls.key, cert: d.tls.cert } } : {}),
    // Matrix parameters (`/vms;max=10`) are part of the path; the API router splits them.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1000 },
    bodyLimit: 10 * 1024 * 1024,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  d.faults.install(app);

  const router = new Router();
  hostRoutes(router);
  resourceRoutes(router);
  vmRoutes(router);
  const major = d.product.version.major;
  const minor = d.product.version.minor;

  const send = (reply: FastifyReply, r: R, json: boolean, res: Result, head: boolean): FastifyReply => {
    reply.code(res.status);
    for (const [k, v] of Object.entries(res.headers ?? {})) reply.header(k, v);
    if (!res.body || head) return reply.send();
    if (json && r.v === 4) return reply.type('application/json').send(toJson(res.body));
    return reply.type('application/xml').send(toXml(res.body, { v3: r.v === 3 }));
  };

  const api = async (req: FastifyRequest, reply: FastifyReply, legacy: boolean): Promise<FastifyReply> => {
    const url = new URL(req.url, 'http://engine');
    const rawSegs = url.pathname.split('/').filter(Boolean).slice(legacy ? 1 : 2);
    const matrix: Record<string, string> = {};
    let segs = rawSegs.map((s) => {
      const [p, ...m] = s.split(';');
      for (const kv of m) {
        const [k, v] = kv.split('=');
        if (k) matrix[decodeURIComponent(k)] = v === undefined ? 'true' : decodeURIComponent(v);
      }
      return p!;
    });
    // §1.2 version selection.
    let v: 3 | 4;
    if (legacy || major === 3) v = 3;
    else {
      let wanted: string | undefined = req.headers['version'] as string | undefined;
      if (segs[0] === 'v3' || segs[0] === 'v4') {
        wanted = segs[0].slice(1);
        segs = segs.slice(1);
      }
      wanted = wanted?.trim() || '4';
      const supported = minor >= 4 ? ['4'] : ['3', '4'];
      if (!supported.includes(wanted)) {
        // VersionFilter.sendError: a servlet-container error page, not a <fault>.
        return reply.code(400).type('text/html').send(`<html><head><title>Error</title></head><body>Version "${wanted}" isn't supported, supported versions are ${supported.join(', ')}.</body></html>`);
      }
      v = wanted === '3' ? 3 : 4;
    }
    const base = legacy ? '/api' : '/ovirt-engine/api';
    const r: R = { v, base };
    const realm = legacy ? 'ENGINE' : 'RESTAPI';
    const auth = d.auth.authenticate(req.headers, base, !!d.tls);
    if (!auth.ok) {
      return reply.code(401).header('www-authenticate', `Basic realm="${realm}"`).type('text/html')
        .send('<html><head><title>Error</title></head><body>Unauthorized</body></html>');
    }
    if (auth.setCookie) reply.header('set-cookie', auth.setCookie);
    if (auth.dropSessionAfter) reply.raw.once('finish', () => d.auth.dropSession(auth.dropSessionAfter!));
    // §1.3 Correlation-Id: echoed, tags jobs; generated when absent.
    const given = (req.headers['correlation-id'] as string | undefined) ?? url.searchParams.get('correlation_id') ?? undefined;
    if (given !== undefined && !CORRELATION_ID.test(given)) {
      const f = new EngineFault(400, 'Operation Failed', "[Correlation ID must contain only alphanumeric characters, '_' and '-', and be at most 36 characters long.]");
      return send(reply, r, false, { status: 400, body: faultEl(f) }, false);
    }
    const correlationId = given ?? randomUUID();
    reply.header('correlation-id', correlationId);
    const accept = String(req.headers['accept'] ?? '');
    const json = /application\/json/i.test(accept) && !/application\/xml/i.test(accept.split(',')[0] ?? '');
    const head = req.method === 'HEAD';
    const st = d.state();
    if (segs.length === 0) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return reply.code(405).send();
      return send(reply, r, json, { status: 200, body: apiRoot(r, st, d.product) }, head);
    }
    const ctx = new Ctx(r, st, d.cfg, req.method, segs, matrix, url.searchParams, req.headers, typeof req.body === 'string' ? req.body : '', correlationId);
    const handler = router.match(ctx);
    if (!handler) return reply.code(404).send();
    if (handler === 'method') return reply.code(405).send();
    try {
      return send(reply, r, json, await handler(ctx), head);
    } catch (e) {
      if (!(e instanceof EngineFault)) {
        const f = new EngineFault(500, 'Operation Failed', (e as Error).message);
        return send(reply, r, json, { status: 500, body: faultEl(f) }, head);
      }
      if (e.reason === null) return reply.code(e.status).send();
      let body: El = faultEl(e);
      if (e.backend && ctx.action) body = actionFaultEl(e, ctx.action.children.map(nodeToEl), r.v);
      return send(reply, r, json, { status: e.status, body }, head);
    }
  };

  // §1.1: /api is served by 3.x engines and (blueprint) next to /ovirt-engine/api; 3.0–3.3 have only /api.
  const serveLegacy = major === 3 || d.legacyApiPath;
  const serveModern = !(major === 3 && minor < 4);
  const methods = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'] as const;
  if (serveLegacy) {
    app.route({ method: [...methods], url: '/api', exposeHeadRoute: false, handler: (req, reply) => api(req, reply, true) });
    app.route({ method: [...methods], url: '/api/*', exposeHeadRoute: false, handler: (req, reply) => api(req, reply, true) });
  }
  if (serveModern) {
    app.route({ method: [...methods], url: '/ovirt-engine/api', exposeHeadRoute: false, handler: (req, reply) => api(req, reply, false) });
    app.route({ method: [...methods], url: '/ovirt-engine/api/*', exposeHeadRoute: false, handler: (req, reply) => api(req, reply, false) });
  }

  // §2.3 SSO (engine ≥ 4.0 only).
  if (major >= 4) {
    app.post('/ovirt-engine/sso/oauth/token', async (req, reply) => {
      const form = new URLSearchParams(typeof req.body === 'string' ? req.body : '');
      for (const [k, val] of new URL(req.url, 'http://x').searchParams) if (!form.has(k)) form.set(k, val);
      const res = d.auth.token(form);
      return reply.code(res.status).type('application/json').send(JSON.stringify(res.body));
    });
    app.post('/ovirt-engine/services/sso-logout', async (req, reply) => {
      const form = new URLSearchParams(typeof req.body === 'string' ? req.body : '');
      const tok = form.get('token');
      if (tok) d.auth.revoke(tok);
      return reply.code(200).type('application/json').send('{}');
    });
  }

  nodeSideRoutes(app, { st: d.state, cfg: d.cfg, caPem: d.caPem, engineCertPem: d.engineCertPem, sshPublicKey: d.sshPublicKey, v1: major > 3 || minor >= 4 });
  d.admin?.(app);
  return app;
}
