import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleConsole } from '../http/console-bundle.js';

/**
 * `npm run build` step: writes dist/console/{index.html,app.js,app.css}, which the console route
 * serves as they are (the packaged appliance has neither the sources nor esbuild).
 */
const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/console');
const started = Date.now();
const files = await bundleConsole({ minify: true });
await mkdir(out, { recursive: true });
for (const name of ['index.html', 'app.js', 'app.css']) await rm(path.join(out, name), { force: true });
for (const [name, body] of files) await writeFile(path.join(out, name), body);
const sizes = [...files].map(([name, body]) => `${name} ${(body.length / 1024).toFixed(1)} KiB`).join(', ');
console.log(`console built into ${path.relative(process.cwd(), out) || out} in ${Date.now() - started} ms: ${sizes}`);
