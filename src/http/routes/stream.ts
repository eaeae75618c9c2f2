import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { RhevbootError } from '../../errors.js';
import type { ApiEvent, ApiJobUpdate, ApiStreamReady } from '../api-types.js';
import type { FeedMessage, LiveFeed, Subscription } from '../live-feed.js';

export interface StreamOptions {
  /** Open streams at most: each is a socket and a subscriber; a leaked tab loop must not pile up. */
  maxStreams?: number;
  /** A comment line this often, so dead peers are noticed and idle proxies keep the stream. */
  keepAliveMs?: number;
}

/** A client that reads slower than this much backlog is cut off rather than buffered for. */
const MAX_BUFFERED = 1024 * 1024;

function frame(m: FeedMessage): string {
  switch (m.type) {
    case 'event':
      return `id: ${m.event.id}\nevent: event\ndata: ${JSON.stringify(m.event satisfies ApiEvent)}\n\n`;
    case 'job':
      return `event: job\ndata: ${JSON.stringify(m.job satisfies ApiJobUpdate)}\n\n`;
    case 'reset':
      return `event: reset\ndata: ${JSON.stringify({ reason: m.reason })}\n\n`;
  }
}

/**
 * GET /api/v1/stream: server-sent events for the console (README "Web console" has the format).
 * Bearer-authenticated like the rest of /api/v1, which is why the browser reads it with fetch
 * rather than EventSource (EventSource cannot send an Authorization header, and a token in the
 * URL would end up in logs). `afterId` (or the standard Last-Event-ID header) resumes after the
 * last event the client saw.
 */
export function streamRoutes(api: FastifyInstance, feed: LiveFeed, opts: StreamOptions = {}): void {
  const maxStreams = opts.maxStreams ?? 16;
  const keepAliveMs = opts.keepAliveMs ?? 15_000;
  const open = new Set<ServerResponse>();

  api.get<{ Querystring: { afterId?: number } }>(
    '/stream',
    {
      schema: {
        description: 'Live events and job progress as text/event-stream (event: event | job | reset | ready).',
        querystring: { type: 'object', properties: { afterId: { type: 'integer', minimum: 0 } }, additionalProperties: false },
      },
    },
    async (req, reply) => {
      if (open.size >= maxStreams) {
        void reply.header('retry-after', '10');
        throw new RhevbootError('RB_ERR_BUSY', `${maxStreams} live streams are open already; close a console tab or retry later`, { maxStreams });
      }
      const header = Number(req.headers['last-event-id']);
      const afterId = req.query.afterId ?? (Number.isSafeInteger(header) && header >= 0 ? header : undefined);

      // From here on the response is ours: fastify neither serialises nor ends it.
      reply.hijack();
      const res = reply.raw;
      open.add(res);
      let sub: Subscription | undefined;
      let keepAlive: NodeJS.Timeout | undefined;
      let closed = false;
      const opened = Date.now();
      const finish = (): void => {
        if (closed) return;
        closed = true;
        clearInterval(keepAlive);
        sub?.close();
        open.delete(res);
        if (!res.writableEnded) res.end();
        req.log.info({ tokenName: req.tokenName, remote: req.ip, seconds: Math.round((Date.now() - opened) / 1000) }, 'live stream closed');
      };
      const write = (chunk: string): void => {
        if (closed) return;
        res.write(chunk);
        if (res.writableLength > MAX_BUFFERED) {
          req.log.warn({ remote: req.ip, buffered: res.writableLength }, 'live stream: client does not keep up; cut off');
          finish();
          res.destroy();
        }
      };
      // 'close' fires when the peer goes away (tab closed, fetch aborted) as well as after end().
      res.on('close', finish);
      res.on('error', finish);
      keepAlive = setInterval(() => write(': keep-alive\n\n'), keepAliveMs).unref();

      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        // Reverse proxies (nginx) buffer responses by default, which would hold events back.
        'x-accel-buffering': 'no',
      });
      write('retry: 2000\n\n');
      req.log.info({ tokenName: req.tokenName, remote: req.ip, afterId }, 'live stream opened');
      try {
        const s = await feed.subscribe((m) => write(frame(m)), finish, afterId);
        // The client may have gone while the backlog was read.
        if (closed) s.close();
        else sub = s;
        // Live from here: the client has (or has been sent) every event up to lastEventId.
        write(`event: ready\ndata: ${JSON.stringify({ lastEventId: s.cursor } satisfies ApiStreamReady)}\n\n`);
      } catch (err) {
        req.log.error({ err }, 'live stream: could not subscribe');
        finish();
      }
    },
  );
}
