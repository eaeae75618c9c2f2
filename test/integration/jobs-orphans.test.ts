import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { startAppliance } from '../../src/appliance.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { tempDir } from '../helpers/tmp.js';

/** The pid of a process that has exited: a copycds killed with SIGKILL leaves its job at this. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('jobs whose process is gone', () => {
  it('serve marks copycds jobs left running by a dead process (or one with its own pid) interrupted when it starts, and leaves live ones alone', async () => {
    const stateDir = await tempDir('rhevboot-orphans-');
    const env = { RHEVBOOT_STATE_DIR: stateDir, RHEVBOOT_HTTP_HOST: '127.0.0.1', RHEVBOOT_HTTP_PORT: '0', RHEVBOOT_TFTP_HOST: '127.0.0.1', RHEVBOOT_TFTP_PORT: '0' };
    // A process that is alive for the whole test: its job is still being worked on.
    const alive = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    const ids = { dead: randomUUID(), alive: randomUUID(), elsewhere: randomUUID(), samePid: randomUUID() };
    try {
      const store = openSqliteStore({ dir: stateDir });
      const job = (id: string, pid: number, host = hostname()) =>
        store.jobs.create({ id, kind: 'copycds', subject: `rhevh6.5/x86_64-${id.slice(0, 4)}`, state: 'running', pid, host, progress: { phase: 'copy', done: 1, total: 2 }, params: {} });
      await job(ids.dead, await deadPid());
      await job(ids.alive, alive.pid!);
      // Another host's process cannot be looked at from here: not this appliance's to judge.
      await job(ids.elsewhere, await deadPid(), 'another-host');
      // The pid serve is about to run as: an earlier process had it (pids repeat after a reboot),
      // since a server that has not started yet runs no import.
      await job(ids.samePid, process.pid);
      await store.close();

      const lines: string[] = [];
      const log = createLogger({ level: 'info', stream: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) });
      const app = await startAppliance(loadConfig({ env }), { log });
      try {
        const state = async (id: string) => (await app.store.jobs.get(id))!;
        const dead = await state(ids.dead);
        assert.equal(dead.state, 'interrupted');
        assert.match(dead.error!.message, /process \d+ ended before the job finished/);
        assert.equal((await state(ids.samePid)).state, 'interrupted', 'a job naming the starting process itself');
        assert.equal((await state(ids.alive)).state, 'running');
        assert.equal((await state(ids.elsewhere)).state, 'running');
        assert.match(lines.join(''), new RegExp(`"job":"${ids.dead}".*"msg":"job interrupted: its process is gone"`));
      } finally {
        await app.stop('test over');
      }
    } finally {
      alive.kill('SIGKILL');
    }
  });
});
