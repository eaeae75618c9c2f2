import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

/** The console's sources (src/console/web): browser code, type-checked by its own tsconfig.json (DOM lib), not the server's. */
export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../console/web');

/** The three files the appliance serves under /console/. */
export const CONSOLE_FILES = ['index.html', 'app.js', 'app.css'] as const;
export type ConsoleFile = (typeof CONSOLE_FILES)[number];

/**
 * Bundles the console (preact + htm + our modules, and the CSS main.ts imports) into one script
 * and one stylesheet: no CDN, no inline script, so the appliance works offline under a strict CSP.
 * Used by `npm run build` (src/console/build.ts) and, when no build exists, by the console route
 * in memory (tests and development run from source).
 */
export async function bundleConsole(opts: { minify?: boolean } = {}): Promise<Map<ConsoleFile, Buffer>> {
  const result = await esbuild.build({
    entryPoints: { app: path.join(WEB_DIR, 'main.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // What the appliance's admins plausibly run; esbuild lowers newer syntax to it.
    target: ['chrome109', 'firefox115', 'safari16'],
    minify: opts.minify ?? false,
    legalComments: 'none',
    write: false,
    outdir: 'out',
    logLevel: 'silent',
    tsconfig: path.join(WEB_DIR, 'tsconfig.json'),
  });
  const files = new Map<ConsoleFile, Buffer>();
  for (const f of result.outputFiles) {
    const name = path.basename(f.path);
    if (name === 'app.js' || name === 'app.css') files.set(name, Buffer.from(f.contents));
  }
  files.set('index.html', await readFile(path.join(WEB_DIR, 'index.html')));
  for (const name of CONSOLE_FILES) if (!files.has(name)) throw new Error(`console bundle has no ${name}`);
  return files;
}
