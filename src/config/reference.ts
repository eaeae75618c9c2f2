import { CONFIG_KEYS, envNameFor } from './keys.js';

/** The README's configuration table, generated from the key table so the two cannot drift. */
export function configReferenceMarkdown(): string {
  const rows = CONFIG_KEYS.map((k) => {
    const def = k.defaultDoc ?? `\`${JSON.stringify(k.default)}\``;
    return `| \`${k.key}\` | ${def} | \`${envNameFor(k.key)}\` | ${k.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| key | default | environment | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
