import cliProgress from 'cli-progress';
import type { ImportProgress } from '../media/copycds.js';
import { formatBytes } from './output.js';

export interface ProgressReporter {
  update(p: ImportProgress): void;
  stop(): void;
}

const LABELS: Record<ImportProgress['phase'], string> = {
  inspect: 'inspecting ISO',
  verify: 'verifying checksum',
  extract: 'extracting boot files',
  copy: 'copying ISO + initrd',
  register: 'registering',
};

/** A live bar per phase on a terminal. */
function ttyReporter(): ProgressReporter {
  const bar = new cliProgress.SingleBar(
    { format: '{phase} [{bar}] {percentage}% | {doneText} / {totalText}', hideCursor: true, clearOnComplete: false, barsize: 30, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  let phase: string | undefined;
  return {
    update(p) {
      const payload = { phase: LABELS[p.phase].padEnd(22), doneText: formatBytes(p.done), totalText: formatBytes(p.total) };
      if (phase !== p.phase) {
        if (phase) bar.stop();
        phase = p.phase;
        bar.start(Math.max(p.total, 1), p.done, payload);
      } else bar.update(p.done, payload);
    },
    stop() {
      if (phase) bar.stop();
    },
  };
}

/** Plain lines for logs and pipes: one per phase change and at most one every few seconds. */
function lineReporter(): ProgressReporter {
  let phase: string | undefined;
  let last = 0;
  return {
    update(p) {
      const now = Date.now();
      if (phase === p.phase && now - last < 3000 && p.done < p.total) return;
      phase = p.phase;
      last = now;
      const pct = p.total > 0 ? Math.floor((100 * p.done) / p.total) : 100;
      process.stderr.write(`copycds: ${LABELS[p.phase]} ${pct}% (${formatBytes(p.done)} / ${formatBytes(p.total)})\n`);
    },
    stop() {},
  };
}

/** JSON lines on stdout for scripts; the final result follows as its own line. */
function jsonReporter(): ProgressReporter {
  let last = 0;
  let phase: string | undefined;
  return {
    update(p) {
      const now = Date.now();
      if (phase === p.phase && now - last < 1000 && p.done < p.total) return;
      phase = p.phase;
      last = now;
      process.stdout.write(JSON.stringify({ event: 'progress', ...p }) + '\n');
    },
    stop() {},
  };
}

export function progressReporter(mode: { json: boolean; quiet?: boolean }): ProgressReporter {
  if (mode.json) return jsonReporter();
  if (mode.quiet) return { update() {}, stop() {} };
  return process.stderr.isTTY ? ttyReporter() : lineReporter();
}
