import { loadConfig, type LoadedConfig } from '../config/load.js';
import { createCliLogger, type Logger } from '../log.js';
import { createServices, type Services } from '../services.js';
import { openSqliteStore } from '../store/sqlite/index.js';
import type { Store } from '../store/store.js';

export interface GlobalOptions {
  config?: string;
  logLevel?: string;
}

export interface CommandContext {
  loaded: LoadedConfig;
  store: Store;
  services: Services;
  log: Logger;
}

/**
 * Runs a CLI command against the store directly (SQLite in WAL mode lets it work next to a running
 * server), through the same services the API uses.
 */
export async function withContext<T>(globals: GlobalOptions, fn: (ctx: CommandContext) => Promise<T>): Promise<T> {
  const loaded = loadConfig({ file: globals.config });
  const log = createCliLogger(globals.logLevel ?? 'warn');
  const store = openSqliteStore({ dir: loaded.config.stateDir, busyTimeoutMs: loaded.config.store.busyTimeoutMs });
  try {
    return await fn({ loaded, store, services: createServices(loaded.config, store, log), log });
  } finally {
    await store.close();
    log.flush();
  }
}
