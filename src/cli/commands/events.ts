import type { Command } from 'commander';
import { RhevbootError } from '../../errors.js';
import type { EventRecord } from '../../store/store.js';
import { withContext, type GlobalOptions } from '../context.js';
import { printJson, printTable } from '../output.js';

const FOLLOW_POLL_MS = 500;

function line(e: EventRecord): string {
  return `${e.at}  ${e.kind.padEnd(22)} ${`${e.subjectType}/${e.subject}`.padEnd(24)} ${e.message}\n`;
}

export function eventsCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('events')
    .description("the event log; with a noderange, those nodes' timelines (DHCP, TFTP, HTTP, nodeset, trigger, hand-off)")
    .argument('[noderange]')
    .option('--kind <prefix>', 'only events whose kind starts with this (e.g. node.dhcp, rhevm)')
    .option('--limit <n>', 'at most this many (the latest)', '100')
    .option('-f, --follow', 'keep printing new events as they happen (Ctrl-C to stop)')
    .option('--json', 'JSON output (one object per line with --follow)')
    .action(async (range: string | undefined, o: { kind?: string; limit: string; follow?: boolean; json?: boolean }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new RhevbootError('RB_ERR_INVALID', `--limit must be a whole number from 1 to 100000, not '${o.limit}'`);
      await withContext(globals(), async ({ services, store }) => {
        // One node reads its timeline straight from the store; a range filters the log by subject.
        const names = range ? new Set((await services.nodes.resolve(range)).map((n) => n.name)) : undefined;
        const single = names?.size === 1 ? [...names][0] : undefined;
        const filter = { ...(single ? { subjectType: 'node', subject: single } : {}), ...(o.kind ? { kindPrefix: o.kind } : {}) };
        const wanted = (e: EventRecord): boolean => !names || (e.subjectType === 'node' && names.has(e.subject));
        const scan = names && !single ? 100_000 : limit;
        const events = (await services.events.latest({ ...filter, limit: scan })).filter(wanted).slice(-limit);
        if (!o.follow) {
          if (o.json) return printJson(events);
          printTable(['TIME', 'KIND', 'SUBJECT', 'MESSAGE'], events.map((e) => [e.at, e.kind, `${e.subjectType}/${e.subject}`, e.message]));
          return;
        }
        const print = (e: EventRecord): void => void process.stdout.write(o.json ? JSON.stringify(e) + '\n' : line(e));
        events.forEach(print);
        // The newest id of the whole log, not of the filtered view: nothing older is printed again.
        let last = (await store.events.list({ latest: true, limit: 1 }))[0]?.id ?? 0;
        await new Promise<void>((resolve) => {
          let timer: NodeJS.Timeout | undefined;
          const stop = (): void => {
            if (timer) clearTimeout(timer);
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            resolve();
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          const poll = async (): Promise<void> => {
            const fresh = await services.events.list({ ...filter, afterId: last, limit: 10_000 });
            for (const e of fresh) {
              last = Math.max(last, e.id);
              if (wanted(e)) print(e);
            }
            timer = setTimeout(() => void poll().catch(stop), FOLLOW_POLL_MS);
          };
          void poll().catch(stop);
        });
      });
    });
}
