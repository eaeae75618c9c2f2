import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { RhevbootError } from '../../errors.js';
import { Mutex } from '../../util/mutex.js';
import type { Repositories, Store } from '../store.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { sqliteRepositories } from './repositories.js';

export interface SqliteStoreOptions {
  /** Directory that holds `rhevboot.db` (created 0750 if missing). */
  dir: string;
  busyTimeoutMs?: number;
  /** For tests of the migration runner. */
  migrations?: Migration[];
  /** Told how long each repository call (lock wait included) took; the server's metrics, never the CLI. */
  onCall?: StoreCallObserver;
}

export type StoreCallObserver = (repo: string, method: string, seconds: number, ok: boolean) => void;

export const STORE_FILE = 'rhevboot.db';

function migrate(db: Database.Database, migrations: Migration[], file: string): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`);
  const current = (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v;
  const latest = migrations.length ? migrations[migrations.length - 1]!.version : 0;
  if (current > latest) {
    throw new RhevbootError(
      'RB_ERR_MIGRATION',
      `${file}: the store is at schema version ${current}, newer than this rhevboot knows (${latest}); refusing to downgrade`,
      { file, current, latest },
    );
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  for (const m of migrations) {
    if (m.version <= current) continue;
    const apply = db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
    });
    try {
      // IMMEDIATE: two processes starting at once must not both try to apply the same migration.
      apply.immediate();
    } catch (err) {
      throw new RhevbootError('RB_ERR_MIGRATION', `${file}: migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, {
        file,
        version: m.version,
      }, { cause: err });
    }
  }
}

type Locked = <T>(fn: () => Promise<T> | T) => Promise<T>;

/**
 * Calls started and finished on any store of this process. A boot generation kept by one store is
 * stale once another connection of the same process (a test's "CLI", say) may have written.
 */
let storeCalls = 0;

/** Wraps every method of a repository so that it runs under the store's lock (and is timed, if asked). */
function locked<T extends object>(repo: T, lock: Locked, name = '', onCall?: StoreCallObserver): T {
  const out: Record<string, unknown> = {};
  for (const [method, fn] of Object.entries(repo)) {
    const run = (...args: unknown[]) => lock(() => (fn as (...a: unknown[]) => Promise<unknown>)(...args));
    out[method] = !onCall
      ? run
      : async (...args: unknown[]) => {
          const t0 = performance.now();
          let ok = false;
          try {
            const result = await run(...args);
            ok = true;
            return result;
          } finally {
            onCall(name, method, (performance.now() - t0) / 1000, ok);
          }
        };
  }
  return out as T;
}

/**
 * Opens (creating if needed) the SQLite store in WAL mode: readers never block the writer, and a
 * CLI command can work next to a running server. Migrations run before anything else.
 */
export function openSqliteStore(opts: SqliteStoreOptions): Store {
  mkdirSync(opts.dir, { recursive: true, mode: 0o750 });
  const file = path.join(opts.dir, STORE_FILE);
  let db: Database.Database;
  try {
    db = new Database(file);
    // Token hashes today, engine credentials later: owner only. SQLite gives the -wal and -shm
    // files the database's permissions, so this must come before WAL mode is switched on.
    chmodSync(file, 0o600);
    db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  } catch (err) {
    throw new RhevbootError('RB_ERR_STORE', `cannot open store ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
  try {
    migrate(db, opts.migrations ?? MIGRATIONS, file);
  } catch (err) {
    db.close();
    throw err;
  }

  const raw = sqliteRepositories(db);
  const bootGeneration = db.prepare('SELECT value FROM boot_generation WHERE id = 1').pluck();
  const mutex = new Mutex();
  // Counted at both ends: a read made while another connection's transaction was open saw none of it.
  const lock: Locked = (fn) => {
    storeCalls++;
    return mutex.run(fn).finally(() => storeCalls++);
  };
  let closed = false;
  // bootGenerationNow() reads once per turn of the event loop, not once per request: a boot storm's
  // requests come in batches (dozens a turn), and each read costs SQLite two fcntl() calls to lock
  // and unlock a WAL read slot, which were a third of the iPXE fast path. The value is forgotten
  // when the turn ends, and a request answered in this turn had arrived when the turn polled for
  // I/O, before the read: a commit another process finished before the client sent it is seen.
  // Writes from this process go through a store's lock: any call since the read forgets it too.
  let turnGeneration: number | undefined;
  let turnCalls = -1;
  let turnEnding = false;
  const endTurn = (): void => {
    turnGeneration = undefined;
    turnEnding = false;
  };
  const transaction = <T>(fn: (tx: Repositories) => Promise<T>): Promise<T> =>
    lock(async () => {
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(raw);
        db.exec('COMMIT');
        return result;
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw err;
      }
    });

  const store: Store = {
    nodes: locked(raw.nodes, lock, 'nodes', opts.onCall),
    secrets: locked(raw.secrets, lock, 'secrets', opts.onCall),
    distros: locked(raw.distros, lock, 'distros', opts.onCall),
    leases: locked(raw.leases, lock, 'leases', opts.onCall),
    events: locked(raw.events, lock, 'events', opts.onCall),
    jobs: locked(raw.jobs, lock, 'jobs', opts.onCall),
    tokens: locked(raw.tokens, lock, 'tokens', opts.onCall),
    engines: locked(raw.engines, lock, 'engines', opts.onCall),
    transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
      if (!opts.onCall) return transaction(fn);
      const t0 = performance.now();
      let ok = false;
      return transaction(fn)
        .then((r) => ((ok = true), r))
        .finally(() => opts.onCall!('store', 'transaction', (performance.now() - t0) / 1000, ok));
    },
    async schemaVersion() {
      return lock(() => (db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number }).v);
    },
    async bootGeneration() {
      return lock(() => bootGeneration.get() as number);
    },
    bootGenerationNow() {
      // While a call holds the connection (a transaction spans awaits), a read here would see its
      // uncommitted writes: then the caller must wait its turn through bootGeneration().
      if (!mutex.idle || closed) return undefined;
      if (turnGeneration === undefined || turnCalls !== storeCalls) {
        turnGeneration = bootGeneration.get() as number;
        turnCalls = storeCalls;
        if (!turnEnding) {
          turnEnding = true;
          setImmediate(endTurn);
        }
      }
      return turnGeneration;
    },
    async close() {
      if (closed) return;
      closed = true;
      await lock(() => db.close());
    },
  };
  return store;
}
