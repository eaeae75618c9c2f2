import type { Command } from 'commander';
import { loadDescriptors } from '../../media/descriptors.js';
import { doctorExitCode, runDoctor, type CheckResult } from '../../diagnostics/doctor.js';
import { withContext, type GlobalOptions } from '../context.js';
import { printJson } from '../output.js';

const LABEL: Record<CheckResult['status'], string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export function formatDoctor(results: CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.id.length));
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${LABEL[r.status].padEnd(4)}  ${r.id.padEnd(width)}  ${r.message}`);
    if (r.fix && r.status !== 'ok') lines.push(`${' '.repeat(6 + width)}  fix: ${r.fix}`);
  }
  const n = (s: CheckResult['status']): number => results.filter((r) => r.status === s).length;
  lines.push(`${n('ok')} ok, ${n('warn')} warning(s), ${n('fail')} failed, ${n('skip')} skipped`);
  return lines.join('\n') + '\n';
}

export function doctorCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('doctor')
    .description('check the running appliance and its environment (ports, boot loaders, install trees, other DHCP servers, engines, clock) and say how to fix what is wrong; exit 1 if any check fails')
    .option('--deep', 'also verify the sha256 of every imported install tree (reads whole ISOs)')
    .option('--json', 'JSON output: {ok, checks: [{id, status, message, fix}]}')
    .action(async (opts: { deep?: boolean; json?: boolean }) => {
      const results = await withContext(globals(), ({ loaded, store, services }) =>
        runDoctor({ config: loaded.config, store, engines: services.engines, descriptors: loadDescriptors(), deep: Boolean(opts.deep) }),
      );
      const code = doctorExitCode(results);
      if (opts.json) printJson({ ok: code === 0, checks: results });
      else process.stdout.write(formatDoctor(results));
      process.exitCode = code;
    });
}
