/** Loads the hex packet fixtures of test/fixtures/dhcp (see craft.py and capture.sh there). */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'dhcp');

export function fixture(name: string): Buffer {
  return Buffer.from(readFileSync(path.join(FIXTURE_DIR, `${name}.hex`), 'utf8').trim(), 'hex');
}

export function fixtureNames(): string[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith('.hex'))
    .map((f) => f.slice(0, -4))
    .sort();
}
