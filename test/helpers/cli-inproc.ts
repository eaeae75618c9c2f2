import { main } from '../../src/cli/main.js';
import type { CliResult } from './cli.js';

let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs the CLI's `main` inside the test process: the same commander program, services and store
 * as `rhevboot …`, without the second or so a tsx child process costs (tests that make dozens of
 * CLI calls keep `runCli` for a few, to prove the real binary, and use this for the rest).
 *
 * stdout/stderr are captured by patching their `write`: only string chunks, which is what the
 * CLI writes; Buffers (the test runner's own serialized reports to its parent) pass through.
 * Calls are serialized, since the patch and the environment are process-wide.
 */
export function runCliInProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const run = async (): Promise<CliResult> => {
    const vars = { RHEVBOOT_CONFIG: '', ...env };
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    Object.assign(process.env, vars);
    let stdout = '';
    let stderr = '';
    const out = process.stdout.write;
    const err = process.stderr.write;
    const capture =
      (orig: typeof out, stream: NodeJS.WriteStream, append: (s: string) => void): typeof out =>
      ((chunk: unknown, ...rest: unknown[]) => {
        if (typeof chunk === 'string') {
          append(chunk);
          return true;
        }
        return (orig as (...a: unknown[]) => boolean).call(stream, chunk, ...rest);
      }) as typeof out;
    process.stdout.write = capture(out, process.stdout, (s) => (stdout += s));
    process.stderr.write = capture(err, process.stderr, (s) => (stderr += s));
    try {
      const code = await main(['node', 'rhevboot', ...args]);
      return { code, signal: null, stdout, stderr };
    } finally {
      process.stdout.write = out;
      process.stderr.write = err;
      process.exitCode = undefined;
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  };
  const p = queue.then(run, run);
  queue = p.catch(() => undefined);
  return p;
}
