import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isRhevbootError } from '../../src/errors.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { openSqliteStore, STORE_FILE } from '../../src/store/sqlite/index.js';
import { distroRecord } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

const distro = distroRecord({
  volumeId: 'RHEV-Hypervisor-6.5',
  sourcePath: '/isos/rhevh.iso',
  isoBytes: 10,
  fileCount: 3,
  bytes: 30,
  treePath: '/install/rhevh6.5/x86_64',
  pxeInitrdBytes: 20,
  importedAt: new Date().toISOString(),
  durationMs: 5,
});

describe('sqlite store', () => {
  it('creates the database in WAL mode with every migration applied, and reopens it', async () => {
    const dir = await tempDir();
    const store = openSqliteStore({ dir });
    assert.equal(await store.schemaVersion(), MIGRATIONS.at(-1)!.version);
    await store.distros.put(distro);
    await store.close();

    const db = new Database(path.join(dir, STORE_FILE), { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(statSync(path.join(dir, STORE_FILE)).mode & 0o777, 0o600);
    db.close();

    const again = openSqliteStore({ dir });
    assert.deepEqual(await again.distros.get('rhevh6.5', 'x86_64'), distro);
    await again.close();
  });

  it('applies only new migrations, and refuses a store newer than itself', async () => {
    const dir = await tempDir();
    const extra = [...MIGRATIONS, { version: 99, name: 'test table', sql: 'CREATE TABLE t (x INTEGER)' }];
    const s1 = openSqliteStore({ dir, migrations: extra });
    assert.equal(await s1.schemaVersion(), 99);
    await s1.close();
    assert.throws(
      () => openSqliteStore({ dir }),
      (err: unknown) => isRhevbootError(err, 'RB_ERR_MIGRATION') && /schema version 99.*refusing to downgrade/.test(err.message),
    );
  });

  it('a failing migration leaves the schema at the previous version', async () => {
    const dir = await tempDir();
    const latest = MIGRATIONS.at(-1)!.version;
    const broken = [...MIGRATIONS, { version: latest + 1, name: 'broken', sql: 'CREATE TABLE ok2 (x INTEGER); CREATE TABLE distros (x INTEGER);' }];
    assert.throws(() => openSqliteStore({ dir, migrations: broken }), (err: unknown) => isRhevbootError(err, 'RB_ERR_MIGRATION') && new RegExp(`migration ${latest + 1}`).test(err.message));
    const store = openSqliteStore({ dir });
    assert.equal(await store.schemaVersion(), latest);
    await store.close();
    const db = new Database(path.join(dir, STORE_FILE), { readonly: true });
    assert.equal((db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'ok2'").get() as { n: number }).n, 0);
    db.close();
  });

  it('rolls a transaction back as a whole when it fails', async () => {
    const dir = await tempDir();
    const store = openSqliteStore({ dir });
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.distros.put(distro);
        await tx.events.append({ kind: 'distro.imported', subjectType: 'distro', subject: 'rhevh6.5/x86_64', message: 'x', data: {} });
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await store.distros.get('rhevh6.5', 'x86_64'), undefined);
    assert.deepEqual(await store.events.list(), []);
    await store.close();
  });

  it('a call made outside a running transaction waits for it instead of joining it', async () => {
    const dir = await tempDir();
    const store = openSqliteStore({ dir });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const tx = store.transaction(async (t) => {
      await t.events.append({ kind: 'a', subjectType: 's', subject: 'x', message: 'in tx', data: {} });
      await gate;
      throw new Error('rollback');
    });
    const outside = store.events.append({ kind: 'b', subjectType: 's', subject: 'x', message: 'outside', data: {} });
    release();
    await assert.rejects(tx, /rollback/);
    await outside;
    const events = await store.events.list();
    assert.deepEqual(events.map((e) => e.message), ['outside']);
    await store.close();
  });

  it('allows one running job per kind and subject', async () => {
    const dir = await tempDir();
    const store = openSqliteStore({ dir });
    const job = { kind: 'copycds', subject: 'rhevh6.5/x86_64', state: 'running' as const, pid: 1, host: 'h', progress: { phase: 'p', done: 0, total: 1 }, params: {} };
    await store.jobs.create({ ...job, id: 'j1' });
    await assert.rejects(store.jobs.create({ ...job, id: 'j2' }), (err: unknown) => isRhevbootError(err, 'RB_ERR_CONFLICT'));
    await store.jobs.finish('j1', 'failed', { error: { code: 'X', message: 'y' } });
    await store.jobs.create({ ...job, id: 'j3' });
    const j1 = await store.jobs.get('j1');
    assert.equal(j1?.state, 'failed');
    assert.deepEqual(j1?.error, { code: 'X', message: 'y' });
    await store.close();
  });

  it('two processes can use the store at once (WAL, busy timeout)', async () => {
    const dir = await tempDir();
    const a = openSqliteStore({ dir });
    const b = openSqliteStore({ dir });
    await a.distros.put(distro);
    assert.equal((await b.distros.list()).length, 1);
    await b.distros.put({ ...distro, arch: 'x86' });
    assert.equal((await a.distros.list()).length, 2);
    await a.close();
    await b.close();
  });

  it('persists DHCP leases in batches, replacing by address', async () => {
    const dir = await tempDir();
    const store = openSqliteStore({ dir });
    const lease = (ip: string, mac: string, state: 'offered' | 'bound' = 'bound') => ({ ip, mac, clientId: null, hostname: null, subnet: '10.0.0.0/24', state, expiresAt: 1000, updatedAt: 1 });
    await store.leases.upsertMany([lease('10.0.0.10', 'aa:bb:cc:dd:ee:01'), lease('10.0.0.11', 'aa:bb:cc:dd:ee:02', 'offered')]);
    await store.leases.upsertMany([{ ...lease('10.0.0.11', 'aa:bb:cc:dd:ee:02'), hostname: 'n02', clientId: '01aabbccddee02' }]);
    await store.close();
    const again = openSqliteStore({ dir });
    const all = await again.leases.all();
    assert.deepEqual(all.map((l) => [l.ip, l.state, l.hostname, l.clientId]), [['10.0.0.10', 'bound', null, null], ['10.0.0.11', 'bound', 'n02', '01aabbccddee02']]);
    assert.equal((await again.leases.get('10.0.0.11'))?.hostname, 'n02');
    assert.equal(await again.leases.get('10.0.0.99'), undefined);
    await again.transaction(async (tx) => {
      await tx.leases.upsertMany([lease('10.0.0.12', 'aa:bb:cc:dd:ee:03')]);
      await tx.leases.remove(['10.0.0.10']);
    });
    assert.deepEqual((await again.leases.all()).map((l) => l.ip), ['10.0.0.11', '10.0.0.12']);
    await again.close();
  });
});
