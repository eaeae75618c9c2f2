import cliProgress from 'cli-progress';
import type { ImportProgress } from '../media/distros.js';
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

/** True for a phase change, the end of a phase, or when `intervalMs` has passed since the last true. */
function throttle(intervalMs: number): (p: ImportProgress) => boolean {
  let phase: string | undefined;
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (phase === p.phase && now - last < intervalMs && p.done < p.total) return false;
    phase = p.phase;
    last = now;
    return true;
  };
}

/** Plain lines for logs and pipes: one per phase change and at most one every few seconds. */
function lineReporter(): ProgressReporter {
  const due = throttle(3000);
  return {
    update(p) {
      if (!due(p)) return;
      const pct = p.total > 0 ? Math.floor((100 * p.done) / p.total) : 100;
      process.stderr.write(`copycds: ${LABELS[p.phase]} ${pct}% (${formatBytes(p.done)} / ${formatBytes(p.total)})\n`);
    },
    stop() {},
  };
}

/** JSON lines on stdout for scripts; the final result follows as its own line. */
function jsonReporter(): ProgressReporter {
  const due = throttle(1000);
  return {
    update(p) {
      if (due(p)) process.stdout.write(JSON.stringify({ event: 'progress', ...p }) + '\n');
    },
    stop() {},
  };
}

export function progressReporter(mode: { json: boolean; quiet?: boolean }): ProgressReporter {
  if (mode.json) return jsonReporter();
  if (mode.quiet) return { update() {}, stop() {} };
  return process.stderr.isTTY ? ttyReporter() : lineReporter();
}
