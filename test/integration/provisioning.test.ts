import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { BOOTSTRAP_TOKEN_FILE, startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { createCliLogger } from '../../src/log.js';
import { runCli } from '../helpers/cli.js';
import { distroRecord } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const exec = promisify(execFile);

const DISTRO = distroRecord();

describe('provisioning over HTTP: nodes API, iPXE script, install trigger', () => {
  let app: Appliance;
  let base: string;
  let headers: Record<string, string>;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const dir = await tempDir('rhevboot-prov-');
    env = { RHEVBOOT_STATE_DIR: dir, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0', RHEVBOOT_BOOT_HTTP_BASE: 'http://127.0.0.1:8080' };
    app = await startAppliance(loadConfig({ env }), { log: createCliLogger('silent') });
    base = `http://127.0.0.1:${app.httpAddress.port}`;
    headers = { authorization: `Bearer ${(await readFile(path.join(dir, BOOTSTRAP_TOKEN_FILE), 'utf8')).trim()}`, 'content-type': 'application/json' };
    await app.store.distros.put(DISTRO);
  });
  after(() => app?.stop());

  const api = (method: string, p: string, body?: unknown) => fetch(`${base}/api/v1${p}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });

  it('defines a node, refuses bad bodies with the field, nodesets it to install', async () => {
    let res = await api('POST', '/nodes', { nodes: [{ name: 'n1', macs: ['52-54-00-12-34-56'], ip: '127.0.0.1', distro: 'rhevh6.5' }] });
    assert.equal(res.status, 201);
    assert.deepEqual(await res.json(), { added: ['n1'], errors: [] });
    res = await api('POST', '/nodes', { nodes: [{ name: 'n2', macs: ['52:54:00:12:34:56'] }] });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; details: { errors: { field: string; message: string }[] } } };
    assert.equal(body.error.details.errors[0]!.field, 'macs');
    assert.match(body.error.details.errors[0]!.message, /already belongs to node n1/);
    res = await api('POST', '/nodes', { nodes: [{ name: 'n2', colour: 'red' }] });
    assert.equal(res.status, 400);
    res = await api('GET', '/nodes/ghost');
    assert.equal(res.status, 404);
    res = await api('PATCH', '/nodes/n1', { kernelArgs: 'console=ttyS0' });
    assert.equal(res.status, 200);
    res = await api('POST', '/nodeset', { range: 'n1', action: 'install' });
    assert.deepEqual(await res.json(), [{ name: 'n1', from: 'local', to: 'install' }]);
  });

  it('serves the node its iPXE script, and a preview that matches it without side effects', async () => {
    const preview = (await (await api('GET', '/nodes/n1/boot?firmware=ipxe')).json()) as { dhcp: { plan: { bootFile: string; action: string } }; http: { content: string } };
    assert.equal(preview.dhcp.plan.bootFile, 'http://127.0.0.1:8080/boot/ipxe/52-54-00-12-34-56');
    assert.equal(preview.dhcp.plan.action, 'install');
    assert.equal(((await (await api('GET', '/nodes/n1')).json()) as { status: string }).status, 'install', 'a preview is not a contact');

    const res = await fetch(`${base}/boot/ipxe/52-54-00-12-34-56`);
    assert.equal(res.status, 200);
    const script = await res.text();
    assert.equal(script, preview.http.content);
    assert.match(script, /local_boot_trigger=http:\/\/127\.0\.0\.1:8080\/xcatrhevh\/rhevh_finish_install\/@HOSTNAME@\?token=[A-Za-z0-9_-]+ console=ttyS0\n/);
    assert.equal(((await (await api('GET', '/nodes/n1')).json()) as { status: string }).status, 'installing');
    assert.equal((await fetch(`${base}/boot/ipxe/52-54-00-99-99-99`)).status, 404);
  });

  it('believes the trigger only from the node, for the node, with its token; repeats are harmless', async () => {
    const node = (await (await api('GET', '/nodes/n1')).json()) as { name: string };
    const token = (await app.store.nodes.get(node.name))!.triggerToken!;
    const trigger = async (host: string, t: string, from = '127.0.0.1') => {
      const { stdout } = await exec('curl', ['-s', '--interface', from, '-o', '/dev/null', '-w', '%{http_code}', `${base}/xcatrhevh/rhevh_finish_install/${host}?token=${t}`]);
      return stdout;
    };
    assert.equal(await trigger('n1', 'wrong-token'), '403');
    assert.equal(await trigger('n2', token), '403');
    assert.equal(await trigger('n1', token, '127.0.0.2'), '403', 'another address');
    assert.equal(((await (await api('GET', '/nodes/n1')).json()) as { status: string }).status, 'installing', 'refusals change nothing');
    assert.equal(await trigger('N1.example.com', token), '200');
    const after1 = (await (await api('GET', '/nodes/n1')).json()) as { status: string; bootAction: string };
    assert.deepEqual([after1.status, after1.bootAction], ['booted', 'local']);
    assert.equal(await trigger('n1', token), '200', 'repeat');
    assert.match(await (await fetch(`${base}/boot/ipxe/52-54-00-12-34-56`)).text(), /\nexit\n$/);
    const events = (await (await api('GET', '/nodes/n1/events')).json()) as { kind: string }[];
    assert.deepEqual(events.map((e) => e.kind), ['node.added', 'node.changed', 'node.nodeset', 'node.installing', 'node.http', 'node.booted', 'node.handoff-skipped', 'node.http']);
  });

  it('CLI: secrets are write-only hashes; preview shows DHCP, TFTP and HTTP', async () => {
    let r = await runCli(['secret', 'set', 'rhevh.admin-password'], env, 60_000, 's3cret!\n');
    assert.equal(r.code, 0, r.stderr);
    const hash = await app.store.secrets.get('rhevh.admin-password');
    assert.match(hash!, /^\$6\$[A-Za-z0-9./]{16}\$[A-Za-z0-9./]{86}$/);
    const { stdout: verify } = await exec('openssl', ['passwd', '-6', '-salt', hash!.split('$')[2]!, 's3cret!']);
    assert.equal(verify.trim(), hash);
    r = await runCli(['secret', 'ls'], env);
    assert.match(r.stdout, /rhevh\.admin-password\s+\d{4}-/);
    assert.doesNotMatch(r.stdout, /\$6\$/);
    assert.equal((await runCli(['secret', 'set', 'nope'], env, 60_000, 'x\n')).code, 1);

    await app.services.nodes.nodeset('n1', 'install');
    r = await runCli(['preview', 'n1', '--firmware', 'bios'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /== DHCP \(bios, MAC 52:54:00:12:34:56\)\naddress +127\.0\.0\.1\nhost name +n1\naction +install\nboot file +undionly\.kpxe/);
    assert.match(r.stdout, /== TFTP pxelinux\.cfg\/01-52-54-00-12-34-56\n# why: .*\n/);
    assert.match(r.stdout, / adminpw=\$6\$/);
    assert.match(r.stdout, /== HTTP http:\/\/127\.0\.0\.1:8080\/boot\/ipxe\/52-54-00-12-34-56\n/);
  });
});
