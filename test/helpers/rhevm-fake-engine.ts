/**
 * A tiny scriptable HTTP(S) server on loopback for the engine client's transport tests. Each test
 * supplies a handler; every request is recorded (method, url, headers, body) so tests can assert
 * on what the client sent. Not the engine simulator (test/engine-sim/): this one fakes exactly one
 * behaviour at a time, including ones a well-behaved engine never shows (dropped connections).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type Reply =
  | { status: number; body?: string; headers?: Record<string, string | string[]> }
  /** Destroy the socket without answering: a connection reset as the client sees it. */
  | 'reset';

export type Handler = (req: Recorded, n: number) => Reply | Promise<Reply>;

export interface FakeEngine {
  url: string;
  requests: Recorded[];
  setHandler(h: Handler): void;
  close(): Promise<void>;
}

export async function startFakeEngine(handler: Handler, tls?: { key: string; cert: string }): Promise<FakeEngine> {
  const requests: Recorded[] = [];
  let h = handler;
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(rec);
      void Promise.resolve(h(rec, requests.length)).then((reply) => {
        if (reply === 'reset') {
          req.socket.destroy();
          return;
        }
        const body = reply.body ?? '';
        res.writeHead(reply.status, { 'Content-Type': 'application/xml;charset=UTF-8', ...reply.headers, 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, onRequest) : http.createServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    setHandler: (nh) => {
      h = nh;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export const V4_ROOT = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<api><link rel="hosts" href="/ovirt-engine/api/hosts"/><product_info><name>oVirt Engine</name><vendor>ovirt.org</vendor>
<version><build>4</build><full_version>4.1.9</full_version><major>4</major><minor>1</minor><revision>0</revision></version></product_info>
<special_objects><blank_template href="/ovirt-engine/api/templates/00000000-0000-0000-0000-000000000000" id="00000000-0000-0000-0000-000000000000"/></special_objects></api>`;

export const V3_ROOT = `<api><link rel="hosts" href="/api/hosts"/><special_objects><link rel="templates/blank" href="/api/templates/00000000-0000-0000-0000-000000000000"/></special_objects>
<product_info><name>Red Hat Enterprise Virtualization Manager</name><vendor>Red Hat</vendor><version major="3" minor="6" build="13" revision="0"/></product_info></api>`;

export const TOKEN = 'tok-SECRET-abc123';
