/**
 * Benchmarks, each against the reference tool in the same run:  npm run bench -- [NAME ...] [options]
 * Names: copycds. With no name, all run. They print ratios; they are not tests and CI does not run them.
 */
import { benchCopycds } from './copycds.js';

const BENCHES: Record<string, () => Promise<void>> = { copycds: benchCopycds };

const names = process.argv.slice(2).filter((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const selected = names.length ? names : Object.keys(BENCHES);
for (const n of selected) {
  const bench = BENCHES[n];
  if (!bench) {
    process.stderr.write(`unknown benchmark '${n}'; known: ${Object.keys(BENCHES).join(', ')}\n`);
    process.exit(2);
  }
  process.stdout.write(`== ${n}\n`);
  await bench();
}
