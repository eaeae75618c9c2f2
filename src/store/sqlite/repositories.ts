import type { Database } from 'better-sqlite3';
import { RhevbootError } from '../../errors.js';
import { sqliteEngines } from './engines.js';
import { sqliteNodes } from './nodes.js';
import type {
  DistroRecord,
  DistroRepository,
  EventRecord,
  EventRepository,
  JobRecord,
  JobRepository,
  JobState,
  LeaseRecord,
  LeaseRepository,
  SecretRepository,
  Repositories,
  TokenRecord,
  TokenRepository,
} from '../store.js';

type Row = Record<string, unknown>;

const now = (): string => new Date().toISOString();

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && String((err as { code?: unknown }).code).startsWith('SQLITE_CONSTRAINT');
}

function distroFromRow(r: Row): DistroRecord {
  return {
    name: r.name as string,
    arch: r.arch as string,
    family: r.family as string,
    version: r.version as string,
    volumeId: r.volume_id as string,
    sourcePath: r.source_path as string,
    isoSha256: r.iso_sha256 as string,
    isoBytes: r.iso_bytes as number,
    fileCount: r.file_count as number,
    bytes: r.bytes as number,
    treePath: r.tree_path as string,
    kernel: r.kernel as string,
    initrd: r.initrd as string,
    pxeInitrd: r.pxe_initrd as string,
    pxeInitrdSha256: r.pxe_initrd_sha256 as string,
    pxeInitrdBytes: r.pxe_initrd_bytes as number,
    importedAt: r.imported_at as string,
    durationMs: r.duration_ms as number,
  };
}

function distros(db: Database): DistroRepository {
  const get = db.prepare('SELECT * FROM distros WHERE name = ? AND arch = ?');
  const list = db.prepare('SELECT * FROM distros ORDER BY name, arch');
  const put = db.prepare(`
    INSERT OR REPLACE INTO distros (name, arch, family, version, volume_id, source_path, iso_sha256, iso_bytes,
      file_count, bytes, tree_path, kernel, initrd, pxe_initrd, pxe_initrd_sha256, pxe_initrd_bytes, imported_at, duration_ms)
    VALUES (@name, @arch, @family, @version, @volumeId, @sourcePath, @isoSha256, @isoBytes,
      @fileCount, @bytes, @treePath, @kernel, @initrd, @pxeInitrd, @pxeInitrdSha256, @pxeInitrdBytes, @importedAt, @durationMs)`);
  const remove = db.prepare('DELETE FROM distros WHERE name = ? AND arch = ?');
  return {
    async get(name, arch) {
      const row = get.get(name, arch) as Row | undefined;
      return row ? distroFromRow(row) : undefined;
    },
    async list() {
      return (list.all() as Row[]).map(distroFromRow);
    },
    async put(record) {
      put.run(record);
    },
    async remove(name, arch) {
      return remove.run(name, arch).changes > 0;
    },
  };
}

function eventFromRow(r: Row): EventRecord {
  return {
    id: r.id as number,
    at: r.at as string,
    kind: r.kind as string,
    subjectType: r.subject_type as string,
    subject: r.subject as string,
    message: r.message as string,
    data: JSON.parse(r.data as string) as Record<string, unknown>,
  };
}

function events(db: Database): EventRepository {
  // No RETURNING: SQLite builds those rows through a temporary table, which doubled the cost of an
  // insert, and boot storms write thousands of events a second. The record is what was bound.
  const insert = db.prepare('INSERT INTO events (at, kind, subject_type, subject, message, data) VALUES (?, ?, ?, ?, ?, ?)');
  return {
    async append(e) {
      const at = e.at ?? now();
      const data = JSON.stringify(e.data ?? {});
      const { lastInsertRowid } = insert.run(at, e.kind, e.subjectType, e.subject, e.message, data);
      // Parsed back, as a read would return it (undefined fields gone, no object shared with the caller).
      return { id: Number(lastInsertRowid), at, kind: e.kind, subjectType: e.subjectType, subject: e.subject, message: e.message, data: JSON.parse(data) as Record<string, unknown> };
    },
    async list(filter = {}) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.subjectType) (where.push('subject_type = ?'), args.push(filter.subjectType));
      if (filter.subject) (where.push('subject = ?'), args.push(filter.subject));
      if (filter.kindPrefix) (where.push("kind LIKE ? ESCAPE '\\'"), args.push(filter.kindPrefix.replace(/[\\%_]/g, '\\$&') + '%'));
      if (filter.afterId !== undefined) (where.push('id > ?'), args.push(filter.afterId));
      const sql = `SELECT * FROM events ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id ${filter.latest ? 'DESC' : ''} LIMIT ?`;
      const rows = (db.prepare(sql).all(...args, filter.limit ?? 1000) as Row[]).map(eventFromRow);
      return filter.latest ? rows.reverse() : rows;
    },
    async lastPerSubject(filter) {
      if (!filter.kinds.length) return [];
      // MAX(id) per subject over the (subject_type, subject, id) index; ids grow with time.
      const sql = `SELECT e.* FROM events e JOIN (
          SELECT MAX(id) AS id FROM events WHERE subject_type = ? AND kind IN (${filter.kinds.map(() => '?').join(', ')}) GROUP BY subject
        ) m ON e.id = m.id ORDER BY e.id`;
      return (db.prepare(sql).all(filter.subjectType, ...filter.kinds) as Row[]).map(eventFromRow);
    },
  };
}

function jobFromRow(r: Row): JobRecord {
  return {
    id: r.id as string,
    kind: r.kind as string,
    subject: r.subject as string,
    state: r.state as JobRecord['state'],
    pid: r.pid as number,
    host: r.host as string,
    progress: JSON.parse(r.progress as string) as JobRecord['progress'],
    params: JSON.parse(r.params as string) as Record<string, unknown>,
    result: r.result ? (JSON.parse(r.result as string) as Record<string, unknown>) : null,
    error: r.error ? (JSON.parse(r.error as string) as JobRecord['error']) : null,
    runAfter: r.run_after as number,
    attempts: r.attempts as number,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}

function jobs(db: Database): JobRepository {
  const insert = db.prepare(`
    INSERT INTO jobs (id, kind, subject, state, pid, host, progress, params, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`);
  const get = db.prepare('SELECT * FROM jobs WHERE id = ?');
  const countAll = db.prepare('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state');
  const countByKind = db.prepare('SELECT state, COUNT(*) AS n FROM jobs WHERE kind = ? GROUP BY state');
  const progress = db.prepare("UPDATE jobs SET progress = ?, updated_at = ? WHERE id = ? AND state = 'running'");
  const finish = db.prepare("UPDATE jobs SET state = ?, result = ?, error = ?, updated_at = ? WHERE id = ? AND state = 'running'");
  const enqueue = db.prepare(`
    INSERT INTO jobs (id, kind, subject, state, pid, host, progress, params, run_after, created_at, updated_at)
    VALUES (?, ?, ?, 'queued', 0, '', ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *`);
  const claim = db.prepare(`
    UPDATE jobs SET state = 'running', pid = ?, host = ?, updated_at = ?
    WHERE id = (SELECT id FROM jobs WHERE kind = ? AND state = 'queued' AND run_after <= ? ORDER BY run_after, created_at LIMIT 1)
    RETURNING *`);
  const requeue = db.prepare(`
    UPDATE jobs SET state = 'queued', pid = 0, host = '', run_after = ?, attempts = attempts + 1, progress = ?, error = ?, updated_at = ?
    WHERE id = ? AND state = 'running'`);
  return {
    async create(job) {
      const at = now();
      try {
        const row = insert.get(job.id, job.kind, job.subject, job.state, job.pid, job.host, JSON.stringify(job.progress), JSON.stringify(job.params), at, at);
        return jobFromRow(row as Row);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new RhevbootError('RB_ERR_CONFLICT', `a ${job.kind} job for ${job.subject} is already queued or running`, { kind: job.kind, subject: job.subject });
        }
        throw err;
      }
    },
    async get(id) {
      const row = get.get(id) as Row | undefined;
      return row ? jobFromRow(row) : undefined;
    },
    async list(filter = {}) {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.kind) (where.push('kind = ?'), args.push(filter.kind));
      if (filter.subject) (where.push('subject = ?'), args.push(filter.subject));
      if (filter.state) (where.push('state = ?'), args.push(filter.state));
      const sql = `SELECT * FROM jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id LIMIT ?`;
      return (db.prepare(sql).all(...args, filter.limit ?? 100) as Row[]).map(jobFromRow);
    },
    async countByState(kind) {
      const rows = (kind ? countByKind.all(kind) : countAll.all()) as { state: JobState; n: number }[];
      return Object.fromEntries(rows.map((r) => [r.state, r.n]));
    },
    async updateProgress(id, p) {
      progress.run(JSON.stringify(p), now(), id);
    },
    async enqueue(job) {
      const at = now();
      const row = enqueue.get(job.id, job.kind, job.subject, JSON.stringify({ phase: 'queued', done: 0, total: 0 }), JSON.stringify(job.params), job.runAfter ?? 0, at, at) as Row | undefined;
      return row ? jobFromRow(row) : undefined;
    },
    async claim(kind, at) {
      const row = claim.get(at.pid, at.host, now(), kind, at.now) as Row | undefined;
      return row ? jobFromRow(row) : undefined;
    },
    async requeue(id, runAfter, p, error) {
      requeue.run(runAfter, JSON.stringify(p), error ? JSON.stringify(error) : null, now(), id);
    },
    async finish(id, state, outcome) {
      finish.run(state, outcome.result ? JSON.stringify(outcome.result) : null, outcome.error ? JSON.stringify(outcome.error) : null, now(), id);
    },
  };
}

function tokenFromRow(r: Row): TokenRecord {
  return {
    id: r.id as number,
    name: r.name as string,
    hash: r.hash as string,
    createdAt: r.created_at as string,
    lastUsedAt: (r.last_used_at as string | null) ?? null,
  };
}

function tokens(db: Database): TokenRepository {
  const insert = db.prepare('INSERT INTO api_tokens (name, hash, created_at) VALUES (?, ?, ?) RETURNING *');
  const byHash = db.prepare('SELECT * FROM api_tokens WHERE hash = ?');
  const list = db.prepare('SELECT * FROM api_tokens ORDER BY name');
  const remove = db.prepare('DELETE FROM api_tokens WHERE name = ?');
  const touch = db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?');
  return {
    async create(name, hash) {
      try {
        return tokenFromRow(insert.get(name, hash, now()) as Row);
      } catch (err) {
        if (isUniqueViolation(err)) throw new RhevbootError('RB_ERR_CONFLICT', `a token named '${name}' already exists`, { name });
        throw err;
      }
    },
    async findByHash(hash) {
      const row = byHash.get(hash) as Row | undefined;
      return row ? tokenFromRow(row) : undefined;
    },
    async list() {
      return (list.all() as Row[]).map(tokenFromRow);
    },
    async remove(name) {
      return remove.run(name).changes > 0;
    },
    async touch(id, at) {
      touch.run(at, id);
    },
  };
}

function leaseFromRow(r: Row): LeaseRecord {
  return {
    ip: r.ip as string,
    mac: r.mac as string,
    clientId: (r.client_id as string | null) ?? null,
    hostname: (r.hostname as string | null) ?? null,
    subnet: r.subnet as string,
    state: r.state as LeaseRecord['state'],
    expiresAt: r.expires_at as number,
    updatedAt: r.updated_at as number,
  };
}

function leases(db: Database): LeaseRepository {
  const all = db.prepare('SELECT * FROM dhcp_leases ORDER BY ip');
  const get = db.prepare('SELECT * FROM dhcp_leases WHERE ip = ?');
  const upsert = db.prepare(`
    INSERT OR REPLACE INTO dhcp_leases (ip, mac, client_id, hostname, subnet, state, expires_at, updated_at)
    VALUES (@ip, @mac, @clientId, @hostname, @subnet, @state, @expiresAt, @updatedAt)`);
  const remove = db.prepare('DELETE FROM dhcp_leases WHERE ip = ?');
  // One transaction per batch: with WAL and synchronous=NORMAL a commit is one write, so the cost
  // of persisting a lease is shared by every lease in the batch.
  const upsertMany = db.transaction((rows: LeaseRecord[]) => {
    for (const r of rows) upsert.run(r);
  });
  const removeMany = db.transaction((ips: string[]) => {
    for (const ip of ips) remove.run(ip);
  });
  return {
    async all() {
      return (all.all() as Row[]).map(leaseFromRow);
    },
    async get(ip) {
      const row = get.get(ip) as Row | undefined;
      return row ? leaseFromRow(row) : undefined;
    },
    async upsertMany(rows) {
      // Inside store.transaction() the connection is already in a transaction; better-sqlite3
      // nests this one as a savepoint.
      upsertMany(rows);
    },
    async remove(ips) {
      removeMany(ips);
    },
  };
}

function secrets(db: Database): SecretRepository {
  const get = db.prepare('SELECT value FROM secrets WHERE name = ?');
  const set = db.prepare('INSERT OR REPLACE INTO secrets (name, value, updated_at) VALUES (?, ?, ?)');
  const remove = db.prepare('DELETE FROM secrets WHERE name = ?');
  const list = db.prepare('SELECT name, updated_at FROM secrets ORDER BY name');
  return {
    async get(name) {
      return (get.get(name) as { value: string } | undefined)?.value;
    },
    async set(name, value) {
      set.run(name, value, now());
    },
    async remove(name) {
      return remove.run(name).changes > 0;
    },
    async list() {
      return (list.all() as Row[]).map((r) => ({ name: r.name as string, updatedAt: r.updated_at as string }));
    },
  };
}

/** Repositories over one connection, with no locking of their own (the store adds it). */
export function sqliteRepositories(db: Database): Repositories {
  return { nodes: sqliteNodes(db), secrets: secrets(db), distros: distros(db), leases: leases(db), events: events(db), jobs: jobs(db), tokens: tokens(db), engines: sqliteEngines(db) };
}
