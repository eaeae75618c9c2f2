/**
 * Bad input that used to be accepted is refused, and a refusal changes nothing (issue 15, point 5).
 * A real appliance is seeded with one of everything (nodes, a group, a distro, an engine, a
 * secret, a second token, a finished job); then a battery of bad requests across the routes,
 * each answered 400 or 409 naming the field, and the SQLite file dumped before and after each.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { BOOTSTRAP_TOKEN_FILE, startAppliance, type Appliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { createCliLogger } from '../../src/log.js';
import { runCli } from '../helpers/cli.js';
import { runCliInProcess } from '../helpers/cli-inproc.js';
import { distroRecord, loopbackEnv } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

/** Every table of the store, rows in a stable order. */
function dumpStore(file: string): Record<string, string[]> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const out: Record<string, string[]> = {};
    for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]) {
      const rows = db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[];
      // Authenticating a request stamps its token's last use: the one write any request makes.
      if (name === 'api_tokens') for (const r of rows) delete r.last_used_at;
      out[name] = rows.map((r) => JSON.stringify(r)).sort();
    }
    return out;
  } finally {
    db.close();
  }
}

interface ErrorBody {
  error: { code: string; message: string; details?: { field?: string; errors?: { field: string; message: string }[] } };
}

/** The field an error names: a validation's or a service's `details.field`, else the first bad row's. */
const fieldOf = (body: ErrorBody): string | undefined => body.error.details?.field ?? body.error.details?.errors?.[0]?.field;

describe('API input: refused, naming the field, changing nothing', () => {
  let app: Appliance;
  let base: string;
  let token: string;
  let dbFile: string;

  before(async () => {
    const stateDir = await tempDir('rhevboot-api-input-');
    dbFile = path.join(stateDir, 'rhevboot.db');
    const env = loopbackEnv(stateDir, {
      // DHCP stays off; its settings are what node addresses are checked against.
      RHEVBOOT_DHCP_SERVER_ADDRESS: '10.9.0.2',
      RHEVBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: '10.9.0.0/24', routers: ['10.9.0.1'] }]),
    });
    app = await startAppliance(loadConfig({ env }), { log: createCliLogger('silent') });
    base = `http://127.0.0.1:${app.httpAddress.port}`;
    token = (await readFile(path.join(stateDir, BOOTSTRAP_TOKEN_FILE), 'utf8')).trim();

    const r = await call('POST', '/api/v1/nodes', {
      nodes: [
        { name: 'n1', macs: ['52:54:00:00:00:01'], ip: '10.9.0.10', groups: ['rack1'] },
        { name: 'n2', macs: ['52:54:00:00:00:02'] },
      ],
    });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    // Nothing listens on port 9: any request that reached the engine would fail, not hang.
    await app.services.engines.add({ name: 'e1', url: 'http://127.0.0.1:9', username: 'admin@internal', password: 'secret' });
    await app.services.engines.add({ name: 'e9', url: 'http://127.0.0.1:9', username: 'admin@internal', password: 'secret' });
    await app.store.distros.put(distroRecord());
    await app.services.secrets.set('rhevh.admin-password', 'installer-secret');
    await app.services.tokens.create('second');
    const job = await app.services.jobs.start('copycds', 'rhevh9.9/x86_64', { iso: '/srv/iso/x.iso' }, 100);
    await job.fail({ code: 'RB_ERR_IMPORT', message: 'test: seeded' });
  });
  after(() => app?.stop('test over'));

  async function call(method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(base + p, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }

  /** [method, path, body, status, field the answer names]. */
  type Case = [string, string, unknown, 400 | 409, string];
  const refuse = async (cases: Case[]): Promise<void> => {
    for (const [method, p, body, status, field] of cases) {
      const what = `${method} ${p} ${JSON.stringify(body)}`;
      const before = dumpStore(dbFile);
      const r = await call(method, p, body);
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.json)}`);
      const err = r.json as ErrorBody;
      assert.equal(err.error.code, status === 409 ? 'RB_ERR_CONFLICT' : 'RB_ERR_INVALID', what);
      assert.equal(fieldOf(err), field, `${what}: ${JSON.stringify(err.error)}`);
      assert.ok(err.error.message, what);
      assert.deepEqual(dumpStore(dbFile), before, `${what} changed the store`);
    }
  };

  it('refuses node names that collide with groups or noderange syntax, and groups named like nodes', async () => {
    await refuse([
      // A node named `all` made PATCH /nodes/all change every node.
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'all' }] }, 400, 'name'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'n5-n7' }] }, 400, 'name'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'rack1' }] }, 409, 'name'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'n5', groups: ['n2'] }] }, 409, 'groups'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'n5', groups: ['n6'] }, { name: 'n6' }] }, 400, 'groups'],
      ['PATCH', '/api/v1/nodes/n2', { groups: ['n1'] }, 409, 'groups'],
      ['PATCH', '/api/v1/nodes/n2', { groups: ['r1-r3'] }, 400, 'groups'],
      ['POST', '/api/v1/groups/r1-r3/members', { range: 'n1' }, 400, 'group'],
      ['POST', '/api/v1/groups/n2/members', { range: 'n1' }, 409, 'group'],
      // A VM is a node: refused before any engine is asked to make it.
      ['POST', '/api/v1/vms', { names: 'rack1', memoryMiB: 1024, manager: 'e1' }, 409, 'names'],
      ['POST', '/api/v1/vms', { names: 'all', memoryMiB: 1024, manager: 'e1' }, 400, 'names'],
    ]);
    // The CLI's import takes the same path (NodeService.add): see the CLI tests below.
  });

  it("refuses the appliance's address, the subnet's network, broadcast and routers as node IPs", async () => {
    await refuse([
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'p5', ip: '10.9.0.2' }] }, 400, 'ip'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'p5', ip: '10.9.0.0' }] }, 400, 'ip'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'p5', ip: '10.9.0.255' }] }, 400, 'ip'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'p5', ip: '10.9.0.1' }] }, 400, 'ip'],
      ['PATCH', '/api/v1/nodes/n2', { ip: '10.9.0.2' }, 400, 'ip'],
      ['PATCH', '/api/v1/nodes/n2', { ip: '10.9.0.1' }, 400, 'ip'],
    ]);
    const r = await call('POST', '/api/v1/nodes', { nodes: [{ name: 'p5', ip: '10.9.0.2' }] });
    assert.match(r.json.error.details.errors[0].message, /appliance's own address/);
  });

  it('refuses the all-zero and broadcast MACs', async () => {
    await refuse([
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'm5', macs: ['00:00:00:00:00:00'] }] }, 400, 'macs'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'm5', macs: ['ff:ff:ff:ff:ff:ff'] }] }, 400, 'macs'],
      ['PATCH', '/api/v1/nodes/n2', { macs: ['0000.0000.0000'] }, 400, 'macs'],
      ['POST', '/api/v1/vms', { names: 'vm1', memoryMiB: 1024, manager: 'e1', nics: [{ mac: '00:00:00:00:00:00' }] }, 400, 'nics'],
      ['PATCH', '/api/v1/vms/n1', { addNics: [{ mac: '01:00:5e:00:00:01' }] }, 400, 'addNics'],
    ]);
  });

  it('does not coerce JSON body types: a wrong type is a 400 naming the field', async () => {
    await refuse([
      ['POST', '/api/v1/nodes', { nodes: [{ name: ['c7'] }] }, 400, 'nodes.0.name'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'c7', macs: '52:54:00:00:00:77' }] }, 400, 'nodes.0.macs'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'c7' }], skipBad: 'true' }, 400, 'skipBad'],
      ['POST', '/api/v1/nodes', { nodes: { name: 'c7' } }, 400, 'nodes'],
      ['PATCH', '/api/v1/nodes/n1', { kernelArgs: 5 }, 400, 'kernelArgs'],
      ['PATCH', '/api/v1/nodes/n1', { attrs: { a: 1 } }, 400, 'attrs.a'],
      ['PATCH', '/api/v1/nodes/n1', { ip: 167837706 }, 400, 'ip'],
      ['POST', '/api/v1/nodeset', { range: 'n1', action: ['local'] }, 400, 'action'],
      ['POST', '/api/v1/groups/rack2/members', { range: ['n1'] }, 400, 'range'],
      ['POST', '/api/v1/engines', { name: 'e2', url: 'http://127.0.0.1:9', username: 'admin@internal', password: 12345 }, 400, 'password'],
      ['POST', '/api/v1/engines/e1/ca', { fingerprint: 1234567890123456789012345678901234567890 }, 400, 'fingerprint'],
      ['POST', '/api/v1/distros', { iso: 5 }, 400, 'iso'],
      ['POST', '/api/v1/distros', { iso: '/x.iso', force: 'true' }, 400, 'force'],
      ['POST', '/api/v1/vms', { names: 'vm1', memoryMiB: '1024', manager: 'e1' }, 400, 'memoryMiB'],
      ['POST', '/api/v1/placement/explain', { names: 'vm1', memoryMiB: 1024, boot: 'network' }, 400, 'boot'],
      ['PATCH', '/api/v1/vms/n1', { memoryMiB: true }, 400, 'memoryMiB'],
      ['POST', '/api/v1/vms/n1/power', { action: ['start'] }, 400, 'action'],
      ['POST', '/api/v1/engines/e1/ve/networks', { name: 'net1', dataCenter: 'dc1', vlan: '5' }, 400, 'vlan'],
      ['POST', '/api/v1/engines/e1/ve/storagedomains/sd1/deactivate', { dataCenter: 'dc1', force: 1 }, 400, 'force'],
    ]);
  });

  it('refuses a CA that is not a PEM certificate as bad input (400), not an engine failure (502)', async () => {
    await refuse([
      ['POST', '/api/v1/engines', { name: 'e2', url: 'http://127.0.0.1:9', username: 'admin@internal', password: 'p', caPem: 'not a pem' }, 400, 'caPem'],
      ['POST', '/api/v1/engines', { name: 'e2', url: 'http://127.0.0.1:9/api?password=p', username: 'admin@internal', password: 'p' }, 400, 'url'],
      ['POST', '/api/v1/engines', { name: 'e1', url: 'http://127.0.0.1:9', username: 'admin@internal', password: 'p', caPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }, 400, 'caPem'],
    ]);
  });

  it('refuses unknown fields, empty changes, unbounded values and names that become paths', async () => {
    await refuse([
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'u8', colour: 'red' }] }, 400, 'nodes.0.colour'],
      ['PATCH', '/api/v1/nodes/n1', {}, 400, ''],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'u8', groups: ['g'.repeat(65)] }] }, 400, 'nodes.0.groups.0'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'u8', attrs: { ['k'.repeat(65)]: 'v' } }] }, 400, 'nodes.0.attrs'],
      ['POST', '/api/v1/nodeset', { range: '', action: 'local' }, 400, 'range'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'u8', distro: '../../etc' }] }, 400, 'distro'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'u8', arch: 'x86 64' }] }, 400, 'arch'],
      ['POST', '/api/v1/nodes', { nodes: [{ name: 'u8', manager: 'e1;reboot' }] }, 400, 'manager'],
      ['PATCH', '/api/v1/nodes/n1', { cluster: 'Default\nx' }, 400, 'cluster'],
      ['POST', '/api/v1/engines/e1/ve/datacenters', { name: 'dc1', extra: true }, 400, 'extra'],
    ]);
  });

  it('still coerces query strings and path parameters, which are text on the wire', async () => {
    let r = await call('GET', '/api/v1/events?limit=2');
    assert.equal(r.status, 200);
    assert.ok(Array.isArray(r.json) && r.json.length === 2);
    r = await call('GET', '/api/v1/nodes/n1/events?limit=1&latest=true');
    assert.equal(r.status, 200);
    assert.equal(r.json.length, 1);
    r = await call('GET', '/api/v1/jobs?limit=1');
    assert.deepEqual([r.status, r.json.length], [200, 1]);
    await refuse([['GET', '/api/v1/events?limit=ten', undefined, 400, 'limit']]);
    // `force` is a boolean in the schema: uncoerced, the text 'true' would be a 400.
    r = await call('DELETE', '/api/v1/engines/e9?force=true');
    assert.equal(r.status, 204);
    assert.equal((await call('GET', '/api/v1/engines/e9')).status, 404);
  });

  it('the refusals left the seeded store as it was', async () => {
    const nodes = (await call('GET', '/api/v1/nodes')).json as { name: string; groups: string[]; ip: string | null; nics: { mac: string }[] }[];
    assert.deepEqual(
      nodes.map((n) => [n.name, n.groups, n.ip, n.nics.map((x) => x.mac)]),
      [
        ['n1', ['rack1'], '10.9.0.10', ['52:54:00:00:00:01']],
        ['n2', [], null, ['52:54:00:00:00:02']],
      ],
    );
    assert.deepEqual((await call('GET', '/api/v1/groups')).json, [{ name: 'rack1', members: ['n1'] }]);
    assert.deepEqual(((await call('GET', '/api/v1/engines')).json as { name: string }[]).map((e) => e.name), ['e1']);
  });
});

describe('CLI input: the same refusals', () => {
  const env = async (extra: NodeJS.ProcessEnv = {}): Promise<NodeJS.ProcessEnv> => ({ RHEVBOOT_STATE_DIR: await tempDir('rhevboot-cli-input-'), ...extra });

  it('node import refuses reserved and range names, and JSON fields of the wrong type, adding nothing', async () => {
    const e = await env();
    const dir = e.RHEVBOOT_STATE_DIR!;
    const csv = path.join(dir, 'nodes.csv');
    await writeFile(csv, 'name,macs\nall,52:54:00:00:00:01\nn1-n3,\nn4,0000.0000.0000\nn5,\n');
    let r = await runCliInProcess(['node', 'import', csv], e);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /row 2 \(all\): name: node name 'all' is reserved/);
    assert.match(r.stderr, /row 3 \(n1-n3\): name: node name 'n1-n3' reads as the range n1\.\.n3/);
    assert.match(r.stderr, /row 4 \(n4\): macs: 00:00:00:00:00:00 is no NIC's address/);
    assert.match(r.stderr, /RB_ERR_INVALID: 3 of 4 rows are invalid; nothing was added/);

    const json = path.join(dir, 'nodes.json');
    await writeFile(json, JSON.stringify([{ name: null }, { name: 'n2', kernelArgs: null }, { name: 'n3', groups: 'rack1' }]));
    r = await runCliInProcess(['node', 'import', json], e);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /row 1: name: field 'name' has the wrong type/);
    assert.match(r.stderr, /row 2 \(n2\): kernelArgs: field 'kernelArgs' has the wrong type/);
    assert.match(r.stderr, /row 3 \(n3\): groups: field 'groups' has the wrong type/);
    r = await runCliInProcess(['node', 'ls', '--json'], e);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  it('node add and set refuse names and groups that collide', async () => {
    const e = await env();
    let r = await runCliInProcess(['node', 'add', 'n1', '--groups', 'rack1'], e);
    assert.equal(r.code, 0, r.stderr);
    r = await runCliInProcess(['node', 'add', 'rack1'], e);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /row 1 \(rack1\): name: rack1 is a group's name/);
    assert.match(r.stderr, /RB_ERR_CONFLICT: 1 of 1 rows are invalid/);
    r = await runCliInProcess(['node', 'add', 'n2', '--groups', 'n1'], e);
    assert.match(r.stderr, /groups: group n1 is a node's name/);
    r = await runCliInProcess(['node', 'set', 'n1', '--groups', 'n1'], e);
    assert.match(r.stderr, /RB_ERR_CONFLICT: group n1 is a node's name/);
    r = await runCliInProcess(['group', 'add', 'g1-g2', 'n1'], e);
    assert.match(r.stderr, /RB_ERR_INVALID: group name 'g1-g2' reads as the range g1\.\.g2/);
    r = await runCliInProcess(['node', 'ls', '--json'], e);
    assert.deepEqual((JSON.parse(r.stdout) as { name: string; groups: string[] }[]).map((n) => [n.name, n.groups]), [['n1', ['rack1']]]);
  });

  it("works on a machine whose provisioning address cannot be resolved: the appliance's addresses are asked only for an IP, and never refuse", async () => {
    const e = await env({ RHEVBOOT_DHCP_INTERFACE: 'nosuch0', RHEVBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: '10.1.0.0/16', routers: ['10.1.0.1'] }]) });
    let r = await runCliInProcess(['node', 'add', 'n1', '--ip', '10.1.0.5'], e);
    assert.equal(r.code, 0, r.stderr);
    r = await runCliInProcess(['node', 'add', 'n2', '--ip', '10.1.0.1'], e);
    assert.match(r.stderr, /ip: 10\.1\.0\.1 is a router's address/);
  });

  it('rhevm add --ca-file with something that is not a CA is bad input', async () => {
    const e = await env();
    const pem = path.join(e.RHEVBOOT_STATE_DIR!, 'ca.pem');
    await writeFile(pem, 'not a pem\n');
    const r = await runCli(['rhevm', 'add', 'e1', '--url', 'http://127.0.0.1:9', '--user', 'admin@internal', '--ca-file', pem], e, 60_000, 'secret\n');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /RB_ERR_INVALID: the engine CA \(caPem, --ca-file\) is not usable: no PEM certificate/);
  });
});
