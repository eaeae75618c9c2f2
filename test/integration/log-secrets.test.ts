import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BOOTSTRAP_TOKEN_FILE, startAppliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger, redactUrl } from '../../src/log.js';
import { distroRecord, loopbackEnv, waitFor } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

/** A secret nobody could find by accident: its label (for the failure message) and random bytes. */
const plant = (label: string): string => `${label}-${randomBytes(12).toString('hex')}`;

/** Lines written to a pino stream, kept in memory (the journal's copy, as `serve` writes it to stdout). */
function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return { stream: new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c.toString()), cb()) }), text: () => chunks.join('') };
}

describe('secrets in logs and events', () => {
  it('a whole run (triggers, API calls, an engine, secrets) leaves none of its secrets in the log, the log file or the events table', async () => {
    const stateDir = await tempDir('rhevboot-secrets-');
    const env = loopbackEnv(stateDir, { RHEVBOOT_BOOT_HTTP_BASE: 'http://127.0.0.1:8080' });
    const loaded = loadConfig({ env });
    const out = sink();
    // The logger serve builds (stdout and <stateDir>/logs), with stdout swapped for the sink; at
    // trace, so that nothing a lower level would hide escapes the scan.
    const logDir = path.join(stateDir, 'logs');
    const log = createLogger({ level: 'trace', dir: logDir, stream: out.stream });
    const app = await startAppliance(loaded, { log });
    const secrets = new Map<string, string>();
    try {
      const base = `http://127.0.0.1:${app.httpAddress.port}`;
      const bearer = (await readFile(path.join(stateDir, BOOTSTRAP_TOKEN_FILE), 'utf8')).trim();
      secrets.set('the bootstrap API token', bearer);
      const auth = { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' };
      const api = (method: string, p: string, body?: unknown, headers: Record<string, string> = auth) =>
        fetch(`${base}/api/v1${p}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });

      // A node being installed, with a boot file to fetch, so the trigger and the timeline have something to say.
      await app.store.distros.put(distroRecord({ treePath: path.join(loaded.config.installDir, 'rhevh6.5/x86_64') }));
      await mkdir(path.join(loaded.config.installDir, 'rhevh6.5/x86_64/pxe'), { recursive: true });
      await writeFile(path.join(loaded.config.installDir, 'rhevh6.5/x86_64/pxe/initrd0.img'), 'initrd');
      assert.equal((await api('POST', '/nodes', { nodes: [{ name: 'n1', macs: ['52-54-00-12-34-56'], ip: '127.0.0.1', distro: 'rhevh6.5' }] })).status, 201);
      assert.equal((await api('POST', '/nodeset', { range: 'n1', action: 'install' })).status, 200);
      const script = await (await fetch(`${base}/boot/ipxe/52-54-00-12-34-56`)).text();
      const triggerToken = (await app.store.nodes.get('n1'))!.triggerToken!;
      assert.ok(script.includes(triggerToken), 'the iPXE script carries the trigger token');
      secrets.set("the node's trigger token", triggerToken);

      // The iPXE script and a boot file asked for with a token in the query (the fastify route, and the node's timeline).
      const ipxeQuery = plant('ipxe-query-token');
      secrets.set('a token in an iPXE script URL', ipxeQuery);
      assert.equal((await fetch(`${base}/boot/ipxe/52-54-00-12-34-56?token=${ipxeQuery}`)).status, 200);
      const fileQuery = plant('boot-file-token');
      secrets.set('a token in a boot file URL', fileQuery);
      assert.equal((await fetch(`${base}/install/rhevh6.5/x86_64/pxe/initrd0.img?token=${fileQuery}`)).status, 200);

      // The install trigger: refused (a wrong token, one too long for the schema), accepted, repeated.
      const trigger = (t: string) => fetch(`${base}/xcatrhevh/rhevh_finish_install/n1?token=${t}`);
      const wrong = plant('wrong-trigger-token');
      const tooLong = plant('long-trigger-token').padEnd(200, 'z');
      secrets.set('a wrong trigger token', wrong);
      secrets.set('a trigger token over the schema limit', tooLong);
      assert.equal((await trigger(wrong)).status, 403);
      assert.equal((await trigger(tooLong)).status, 400);
      assert.equal((await trigger(triggerToken)).status, 200);
      assert.equal((await trigger(triggerToken)).status, 200, 'repeat');

      // Tokens and passwords in API query strings: refused (no bearer header, an unknown route) and accepted.
      for (const [param, status, headers, route] of [
        ['token', 401, {}, '/distros'],
        ['access_token', 401, {}, '/distros'],
        ['password', 401, {}, '/distros'],
        ['token', 200, auth, '/distros'],
        ['access_token', 200, auth, '/version'],
        ['password', 200, auth, '/version'],
        ['token', 404, auth, '/nope'],
      ] as const) {
        const value = plant(`api-${param}-${status}`);
        secrets.set(`?${param}= on ${route} (${status})`, value);
        assert.equal((await api('GET', `${route}?${param}=${value}`, undefined, headers)).status, status, `${param} ${route}`);
      }
      assert.equal((await api('GET', `/distros?access_token=${bearer}`, undefined, {})).status, 401, 'the real token in the query is not a credential');
      const unknown = plant('unknown-route-secret');
      secrets.set('?secret= on an unknown route outside the API', unknown);
      assert.equal((await fetch(`${base}/nope?secret=${unknown}`)).status, 404);

      // An engine password through the API (in the body, and by mistake in the query), and secrets through their service.
      const enginePassword = plant('engine-password');
      const queryPassword = plant('engine-query-password');
      secrets.set('an engine password', enginePassword);
      secrets.set('a password in the engine call query', queryPassword);
      const engine = await api('POST', `/engines?password=${queryPassword}`, { name: 'lab', url: 'http://127.0.0.1:1/ovirt-engine/api', username: 'admin@internal', password: enginePassword });
      assert.equal(engine.status, 201);
      for (const name of ['rhevh.admin-password', 'rhevm.host-root-password']) {
        const value = plant(name);
        secrets.set(`secret ${name}`, value);
        await app.services.secrets.set(name, value);
      }

      // The boot file's timeline entry is noted after the answer, and written in batches: wait for it before stopping.
      await waitFor(
        async () => {
          await app.services.events.flush();
          return (await app.store.events.list({ subjectType: 'node', subject: 'n1' })).some((e) => e.kind === 'node.http' && e.message.includes('/install/'));
        },
        { what: 'the boot file in the node timeline' },
      );
    } finally {
      await app.stop('test over');
    }

    const fileLog = await waitFor(async () => {
      const text = await readFile(path.join(logDir, 'rhevboot.log'), 'utf8');
      return text.includes('"rhevboot stopped"') && text;
    }, { what: 'the log file to be written out' });
    const db = new Database(path.join(stateDir, 'rhevboot.db'), { readonly: true });
    const events = JSON.stringify(db.prepare('SELECT * FROM events').all());
    db.close();

    const stdoutLog = out.text();
    const leaks = [...secrets].flatMap(([label, value]) =>
      [
        ['the log (stdout)', stdoutLog],
        ['the log file', fileLog],
        ['the events table', events],
      ].flatMap(([where, text]) => (text!.includes(value) ? [`${label} in ${where}`] : [])),
    );
    assert.deepEqual(leaks, []);
    // The run did what it was meant to, and its log still says which requests they were.
    for (const text of [stdoutLog, fileLog]) {
      assert.match(text, /"url":"\/xcatrhevh\/rhevh_finish_install\/n1\?token=\[redacted\]","status":403/);
      assert.match(text, /"url":"\/xcatrhevh\/rhevh_finish_install\/n1\?token=\[redacted\]","status":200/);
      assert.match(text, /"url":"\/api\/v1\/distros\?access_token=\[redacted\]","status":401/);
      assert.match(text, /"url":"\/api\/v1\/version\?password=\[redacted\]","status":200/);
    }
    assert.match(events, /node\.booted/);
    assert.match(events, /\/install\/rhevh6\.5\/x86_64\/pxe\/initrd0\.img\?token=\[redacted\]/);

    // Created 0640 in a 0750 directory: the log says who booted what, for the service's group only.
    assert.equal((await stat(path.join(logDir, 'rhevboot.log'))).mode & 0o777, 0o640);
    assert.equal((await stat(logDir)).mode & 0o777, 0o750);
  });

  it('redacts query secrets in the url, req and err fields and in messages, as fastify and pino log them', () => {
    const out = sink();
    const log = createLogger({ level: 'info', stream: out.stream });
    const s = Array.from({ length: 6 }, (_, i) => plant(`s${i}`));
    log.info({ url: `/xcatrhevh/rhevh_finish_install/n1?token=${s[0]}&x=1` }, 'http request');
    const child = log.child({ reqId: 'req-1' });
    child.info({ req: { method: 'GET', url: `/api/v1/distros?access_token=${s[1]}`, headers: { authorization: `Bearer ${s[2]}` }, socket: { remoteAddress: '127.0.0.1' } } }, 'incoming request');
    child.error({ err: new Error(`Reply was already sent, did you forget to "return reply" in the "/a?password=${s[3]}" route?`) }, 'request errored');
    child.info(`Route GET:/a?to%6Ben=${s[4]} not found`);
    child.warn('%s', `/a?b=1&client_secret=${s[5]}`);
    const text = out.text();
    for (const v of s) assert.ok(!text.includes(v), `${v} leaked:\n${text}`);
    assert.match(text, /"url":"\/xcatrhevh\/rhevh_finish_install\/n1\?token=\[redacted\]&x=1"/);
    assert.match(text, /"req":\{"method":"GET","url":"\/api\/v1\/distros\?access_token=\[redacted\]","remoteAddress":"127\.0\.0\.1"\}/);
    assert.match(text, /password=\[redacted\]/);
    assert.equal(redactUrl('/boot/ipxe/52-54-00-12-34-56'), '/boot/ipxe/52-54-00-12-34-56');
    assert.equal(redactUrl('/a?range=n1&token=t&arch=x86_64'), '/a?range=n1&token=[redacted]&arch=x86_64');
  });

  it('narrows a log file an older version created 0644 to 0640', async () => {
    const dir = await tempDir('rhevboot-logmode-');
    const file = path.join(dir, 'rhevboot.log');
    await writeFile(file, '', { mode: 0o644 });
    const log = createLogger({ level: 'info', dir, stream: sink().stream });
    log.info('hello');
    log.flush();
    assert.equal((await stat(file)).mode & 0o777, 0o640);
  });
});
