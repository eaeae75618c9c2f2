// Regenerates the README's configuration reference from src/config/keys.ts: npm run docs
import { readFileSync, writeFileSync } from 'node:fs';
import { configReferenceMarkdown } from '../../src/config/reference.js';

const file = new URL('../../README.md', import.meta.url);
const readme = readFileSync(file, 'utf8');
writeFileSync(file, readme.replace(/(<!-- config-reference:start[^\n]*-->\n)[\s\S]*?(\n<!-- config-reference:end -->)/, (_, a: string, b: string) => a + configReferenceMarkdown() + b));
