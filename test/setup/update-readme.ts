// Regenerates what is generated from src/config/keys.ts: the README's configuration reference and
// the shipped commented config (systemd/rhevboot.yaml.example). npm run docs
import { readFileSync, writeFileSync } from 'node:fs';
import { configExampleYaml } from '../../src/config/example.js';
import { configReferenceMarkdown } from '../../src/config/reference.js';

const file = new URL('../../README.md', import.meta.url);
const readme = readFileSync(file, 'utf8');
writeFileSync(file, readme.replace(/(<!-- config-reference:start[^\n]*-->\n)[\s\S]*?(\n<!-- config-reference:end -->)/, (_, a: string, b: string) => a + configReferenceMarkdown() + b));
writeFileSync(new URL('../../systemd/rhevboot.yaml.example', import.meta.url), configExampleYaml());
