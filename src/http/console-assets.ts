import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';

export interface ConsoleAsset {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/** dist/console next to dist/http when built; src/console (sources, no app.js) when run from source. */
const CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../console');

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

async function load(log: Logger, dir: string): Promise<Map<string, ConsoleAsset>> {
  let files: Map<string, Buffer>;
  if (await exists(path.join(dir, 'app.js'))) {
    files = new Map(await Promise.all(Object.keys(TYPES).map(async (name) => [name, await readFile(path.join(dir, name))] as const)));
  } else {
    // Running from source: bundle in memory. esbuild is a devDependency, so a package without a
    // built console (someone ran tsc alone) fails here with a message rather than at startup.
    const started = Date.now();
    const { bundleConsole } = await import('./console-bundle.js');
    files = await bundleConsole();
    log.info({ ms: Date.now() - started }, `console bundled in memory from source (no ${dir}/app.js)`);
  }
  const out = new Map<string, ConsoleAsset>();
  for (const [name, body] of files) out.set(name, { body, type: TYPES[name]!, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  return out;
}

/**
 * The console's files, loaded on first request and kept: built files are read once; from source
 * they are bundled once. Lazily, because every appliance a test starts would otherwise pay for a
 * bundle it never serves. A failure is not cached, so fixing the build needs no restart.
 */
export function consoleAssets(log: Logger, dir = CONSOLE_DIR): () => Promise<Map<string, ConsoleAsset>> {
  let loading: Promise<Map<string, ConsoleAsset>> | undefined;
  return () => {
    loading ??= load(log, dir).catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
    return loading;
  };
}
