import type { Database } from 'better-sqlite3';
import type { EngineRecord, EngineRepository } from '../store.js';

type Row = Record<string, unknown>;

function fromRow(r: Row): EngineRecord {
  return {
    name: r.name as string,
    kind: r.kind as EngineRecord['kind'],
    url: r.url as string,
    username: r.username as string,
    password: r.password as string,
    caPem: (r.ca_pem as string | null) ?? null,
    caFingerprint: (r.ca_fingerprint as string | null) ?? null,
    apiVersion: (r.api_version as string | null) ?? null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}

export function sqliteEngines(db: Database): EngineRepository {
  const get = db.prepare('SELECT * FROM engines WHERE name = ?');
  const list = db.prepare('SELECT * FROM engines ORDER BY name');
  const put = db.prepare(`
    INSERT INTO engines (name, kind, url, username, password, ca_pem, ca_fingerprint, api_version, created_at, updated_at)
    VALUES (@name, @kind, @url, @username, @password, @caPem, @caFingerprint, @apiVersion, @at, @at)
    ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, url = excluded.url, username = excluded.username, password = excluded.password,
      ca_pem = excluded.ca_pem, ca_fingerprint = excluded.ca_fingerprint, api_version = excluded.api_version, updated_at = excluded.updated_at
    RETURNING *`);
  const remove = db.prepare('DELETE FROM engines WHERE name = ?');
  return {
    async get(name) {
      const row = get.get(name) as Row | undefined;
      return row ? fromRow(row) : undefined;
    },
    async list() {
      return (list.all() as Row[]).map(fromRow);
    },
    async put(engine) {
      return fromRow(put.get({ kind: 'rhevm', ...engine, at: new Date().toISOString() }) as Row);
    },
    async remove(name) {
      return remove.run(name).changes > 0;
    },
  };
}
