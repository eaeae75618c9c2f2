/**
 * The bulk VM run (issue 7): create, start, migrate and remove 200 VMs through noderanges against
 * the engine simulator (v4, two up hosts), through the VM service exactly as `rhevboot vm` does.
 * Prints wall time per phase and engine calls per VM, counted from the simulator's request log
 * (every HTTP request the engine saw, polls and the SSO token included).
 *
 *   npm run bench -- vms [--vms=200] [--concurrency=16]
 */
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { createServices } from '../src/services.js';
import { VmService } from '../src/management/vms.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { startEngine } from '../test/helpers/vm-estate.js';
import { tempDir } from '../test/helpers/tmp.js';
import { DEFAULT_USER } from '../test/engine-sim/index.js';

function arg(name: string, dflt: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : dflt;
}

export async function benchVms(): Promise<void> {
  const n = arg('vms', 200);
  const concurrency = arg('concurrency', 16);
  const sim = await startEngine(4, [
    { name: 'h1', type: 'ovirt_node', memoryMiB: 1024 * 1024 },
    { name: 'h2', type: 'ovirt_node', memoryMiB: 1024 * 1024 },
  ]);
  const stateDir = await tempDir('rhevboot-bench-vms-');
  const store = openSqliteStore({ dir: stateDir, busyTimeoutMs: 5000 });
  try {
    await store.engines.put({ name: 'e1', url: sim.url, username: DEFAULT_USER.user, password: DEFAULT_USER.password, caPem: null, caFingerprint: null, apiVersion: null });
    const config = loadConfig({ env: { RHEVBOOT_STATE_DIR: stateDir, RHEVBOOT_RHEVM_POLL_INTERVAL_MS: '50' } }).config;
    const log = pino({ level: 'silent' });
    const s = createServices(config, store, log);
    const vms = new VmService({ store, engines: s.engines, nodes: s.nodes, events: s.events, log, pollIntervalMs: 50, concurrency });
    const range = `bvm[001-${String(n).padStart(3, '0')}]`;
    const phases: [string, () => Promise<{ ok: boolean }[]>][] = [
      ['create', async () => (await vms.create({ names: range, memoryMiB: 512 })).results],
      ['start', () => vms.power(range, 'start')],
      ['migrate', () => vms.migrate(range)],
      ['stop', () => vms.power(range, 'stop')],
      ['remove', () => vms.remove(range)],
    ];
    process.stdout.write(`${n} VMs, ${concurrency} at a time, engine simulator v4 (stepMs 2), poll interval 50 ms\n`);
    process.stdout.write('phase     wall s   VMs ok   engine calls   calls/VM\n');
    let totalMs = 0;
    let totalCalls = 0;
    for (const [name, run] of phases) {
      const before = sim.requests.length;
      const t0 = performance.now();
      const results = await run();
      const ms = performance.now() - t0;
      const calls = sim.requests.length - before;
      totalMs += ms;
      totalCalls += calls;
      const ok = results.filter((r) => r.ok).length;
      process.stdout.write(`${name.padEnd(8)}  ${(ms / 1000).toFixed(2).padStart(6)}   ${String(ok).padStart(6)}   ${String(calls).padStart(12)}   ${(calls / n).toFixed(1).padStart(8)}\n`);
      if (ok !== n) throw new Error(`${name}: ${n - ok} VMs failed`);
    }
    process.stdout.write(`${'total'.padEnd(8)}  ${(totalMs / 1000).toFixed(2).padStart(6)}   ${''.padStart(6)}   ${String(totalCalls).padStart(12)}   ${(totalCalls / n).toFixed(1).padStart(8)}\n`);
    process.stdout.write(`nodes left ${(await store.nodes.list()).length}, VMs left on the engine ${sim.state.vms.size}\n`);
  } finally {
    await store.close();
    await sim.close();
  }
}
