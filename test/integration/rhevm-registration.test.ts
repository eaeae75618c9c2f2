import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { createCliLogger } from '../../src/log.js';
import { createServices, type Services } from '../../src/services.js';
import { REGISTER_JOB } from '../../src/management/registration.js';
import { SECRET_HOST_ROOT_PASSWORD, SECRET_PM_PASSWORD } from '../../src/provisioning/secrets.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/store.js';
import { DEFAULT_USER, EngineSim } from '../engine-sim/index.js';
import { waitFor } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/tmp.js';

interface World {
  dir: string;
  store: Store;
  services: Services;
  close(): Promise<void>;
}

/** The appliance's services over a fresh store, with hand-off timings scaled down for tests. */
async function world(dir?: string, extra: Record<string, string> = {}): Promise<World> {
  dir ??= await tempDir('rhevboot-reg-');
  const env = {
    RHEVBOOT_STATE_DIR: dir,
    RHEVBOOT_DHCP_SUBNETS: JSON.stringify([{ subnet: '10.9.0.0/16' }]),
    RHEVBOOT_RHEVM_POLL_INTERVAL_MS: '50',
    RHEVBOOT_RHEVM_REGISTRATION_TIMEOUT_MS: '20000',
    ...extra,
  };
  const store = openSqliteStore({ dir });
  const services = createServices(loadConfig({ env }).config, store, createCliLogger('silent'));
  return {
    dir,
    store,
    services,
    async close() {
      await services.registrations.stop();
      await store.close();
    },
  };
}

async function defineNode(w: World, sim: EngineSim, name = 'rhevh01', ip = '10.9.0.11'): Promise<void> {
  await w.services.engines.add({ name: 'rhevm1', url: sim.url, username: DEFAULT_USER.user, password: DEFAULT_USER.password, ...(sim.ca ? { caPem: sim.ca.pem } : {}) });
  await w.services.nodes.add([{ name, macs: ['52:54:00:09:00:11'], ip, manager: 'rhevm1', cluster: 'Default', attrs: { 'pm.address': '10.9.1.11', 'pm.user': 'ipmiadmin' } }]);
  await w.store.secrets.set(SECRET_PM_PASSWORD, 'bmc-secret');
}

/** What the trigger does in its transaction: the node is booted and its hand-off queued. */
async function installFinished(w: World, name = 'rhevh01'): Promise<void> {
  await w.store.transaction(async (tx) => {
    const n = (await tx.nodes.get(name))!;
    const booted = { ...n, bootAction: 'local' as const, status: 'booted' as const };
    await tx.nodes.putMany([booted]);
    assert.equal(await w.services.registration.queue(booted, tx), 'queued');
  });
}

/** Until `f` holds: the registration runs in the background, on the engine simulator's clock. */
const until = <T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 15000): Promise<T> => waitFor(f, { what, timeoutMs, intervalMs: 25 });

const nodeStatus = async (w: World, name = 'rhevh01'): Promise<string> => (await w.store.nodes.get(name))!.status;
const timeline = async (w: World, name = 'rhevh01'): Promise<string[]> => (await w.services.events.list({ subjectType: 'node', subject: name })).map((e) => e.kind);
const hostsNamed = (sim: EngineSim, name: string): number => [...sim.state.hosts.values()].filter((h) => h.name === name || h.name.startsWith(`${name}.`)).length;

for (const version of [3, 4] as const) {
  describe(`hands-free registration with a v${version} engine`, () => {
    it('waits for the host to register itself, approves it, and ends up with the node up', async () => {
      const sim = await EngineSim.start({ version, tls: version === 4, stepMs: 5 });
      const w = await world();
      try {
        await defineNode(w, sim);
        await installFinished(w);
        await w.services.registrations.start();
        await until('registering', async () => (await nodeStatus(w)) === 'registering');
        // RHEV-H boots, vdsm registers with the engine it was given (management_server).
        sim.registerNode({ name: 'rhevh01.example.com', address: '10.9.0.11', uniqueId: 'uuid-rhevh01' });
        await until('up', async () => (await nodeStatus(w)) === 'up');
        assert.equal(hostsNamed(sim, 'rhevh01'), 1);
        assert.equal(sim.hostByName('rhevh01.example.com')!.status, 'up');
        const kinds = await timeline(w);
        for (const k of ['rhevm.queued', 'node.status', 'rhevm.host-found', 'rhevm.host-approved', 'rhevm.host-up']) assert.ok(kinds.includes(k), `${k} in ${kinds.join(', ')}`);
        const job = (await w.store.jobs.list({ kind: REGISTER_JOB }))[0]!;
        assert.equal(job.state, 'succeeded');
        const approves = sim.requests.filter((r) => r.method === 'POST' && /\/approve$/.test(r.path));
        assert.equal(approves.length, 1);
        assert.equal(approves[0]!.headers['correlation-id'], job.id, 'engine calls carry the job as Correlation-Id');
        assert.match(approves[0]!.body, /<cluster>\s*<name>Default<\/name>\s*<\/cluster>|<cluster[^>]*>.*Default/s);
        const pm = sim.hostByName('rhevh01.example.com')!.powerManagement;
        assert.deepEqual([pm.enabled, pm.address, pm.username], [true, '10.9.1.11', 'ipmiadmin'], 'power management set from the node');
        assert.ok(kinds.indexOf('rhevm.power-management') < kinds.indexOf('rhevm.host-up'));
        assert.doesNotMatch(JSON.stringify(await w.services.events.list({})), /bmc-secret/);
      } finally {
        await w.close();
        await sim.close();
      }
    });
  });
}

describe('registration under engine faults', () => {
  it('5xx, dropped connections and an engine restart mid-job still end up with exactly one host, up', async () => {
    const sim = await EngineSim.start({ version: 4, stepMs: 5 });
    const w = await world();
    try {
      await defineNode(w, sim);
      await installFinished(w);
      sim.faults.failNext(3, 503);
      sim.faults.add({ kind: 'drop', times: 2, method: 'GET', path: /\/hosts/ });
      await w.services.registrations.start();
      sim.registerNode({ name: 'rhevh01', address: '10.9.0.11', uniqueId: 'uuid-1' });
      await until('approved', async () => (await timeline(w)).includes('rhevm.host-approved'));
      await sim.restart({ downMs: 300 });
      sim.faults.add({ kind: 'drop-after', times: 1, method: 'GET', path: /\/hosts\// });
      await until('up', async () => (await nodeStatus(w)) === 'up', 20000);
      assert.equal(hostsNamed(sim, 'rhevh01'), 1);
      assert.ok(sim.requests.some((r) => r.fault), 'faults were really injected');
    } finally {
      await w.close();
      await sim.close();
    }
  });

  it("a failed host-deploy ends the node failed with the engine's reason", async () => {
    const sim = await EngineSim.start({ version: 4, stepMs: 5 });
    const w = await world();
    try {
      await defineNode(w, sim);
      sim.failHost({ name: /rhevh01/, kind: 'non_operational', reason: 'Host rhevh01 does not comply with the cluster Default networks, the following networks are missing on host: vlan100' });
      await installFinished(w);
      await w.services.registrations.start();
      sim.registerNode({ name: 'rhevh01', address: '10.9.0.11', uniqueId: 'uuid-1' });
      await until('failed', async () => (await nodeStatus(w)) === 'failed');
      const node = (await w.store.nodes.get('rhevh01'))!;
      assert.match(node.statusReason!, /non_operational.*networks are missing on host: vlan100/);
      assert.equal((await w.store.jobs.list({ kind: REGISTER_JOB }))[0]!.state, 'failed');
      assert.equal(hostsNamed(sim, 'rhevh01'), 1);
    } finally {
      await w.close();
      await sim.close();
    }
  });

  it('a host that never registers is added by address with the root password, when allowed', async () => {
    const sim = await EngineSim.start({ version: 3, stepMs: 5 });
    const w = await world(undefined, { RHEVBOOT_RHEVM_ADD_AFTER_MS: '300' });
    try {
      await defineNode(w, sim);
      await w.store.secrets.set(SECRET_HOST_ROOT_PASSWORD, 'r00t-secret');
      await installFinished(w);
      await w.services.registrations.start();
      await until('up', async () => (await nodeStatus(w)) === 'up');
      const add = sim.requests.find((r) => r.method === 'POST' && /\/hosts$/.test(r.path))!;
      assert.match(add.body, /<address>10\.9\.0\.11<\/address>/);
      assert.ok((await timeline(w)).includes('rhevm.host-added'));
      assert.equal(hostsNamed(sim, 'rhevh01'), 1);
      const logged = JSON.stringify(await w.services.events.list({}));
      assert.doesNotMatch(logged, /r00t-secret/, 'the root password is in no event');
    } finally {
      await w.close();
      await sim.close();
    }
  });

  it('without registration or a root password, the hand-off times out naming the step', async () => {
    const sim = await EngineSim.start({ version: 4, stepMs: 5 });
    const w = await world();
    try {
      await defineNode(w, sim);
      await installFinished(w);
      await w.services.registrations.start();
      await until('waiting', async () => (await w.store.jobs.list({ kind: REGISTER_JOB }))[0]?.progress.phase === 'waiting-for-host');
      await w.services.registrations.stop();
      // The shortest configurable deadline is 10 s: move the persisted one into the past instead.
      const claimed = (await w.store.jobs.claim(REGISTER_JOB, { now: Date.now(), pid: process.pid, host: 'test' }))!;
      assert.equal(claimed.progress.phase, 'waiting-for-host', 'a stop put the job back in the queue with its place');
      await w.store.jobs.requeue(claimed.id, 0, { ...claimed.progress, detail: { ...claimed.progress.detail, deadline: Date.now() - 1 } });
      await w.services.registrations.start();
      await until('failed', async () => (await nodeStatus(w)) === 'failed');
      assert.match((await w.store.nodes.get('rhevh01'))!.statusReason!, /no end to 'waiting-for-host'/);
      assert.equal((await w.store.jobs.list({ kind: REGISTER_JOB }))[0]!.state, 'failed');
    } finally {
      await w.close();
      await sim.close();
    }
  });

  it('a restart of rhevboot in the middle of a registration resumes it: one approval, one host, up', async () => {
    const sim = await EngineSim.start({ version: 4, stepMs: 0 });
    const w = await world();
    let w2: World | undefined;
    try {
      await defineNode(w, sim);
      await installFinished(w);
      await w.services.registrations.start();
      sim.registerNode({ name: 'rhevh01', address: '10.9.0.11', uniqueId: 'uuid-1' });
      // The clock is manual: after approval the host sits in `installing` until we advance it.
      await until('approved', async () => (await timeline(w)).includes('rhevm.host-approved'));
      await until('waiting for up', async () => (await w.store.jobs.list({ kind: REGISTER_JOB }))[0]?.progress.phase === 'waiting-for-up');
      await w.close();
      const stopped = (await (async () => {
        const s = openSqliteStore({ dir: w.dir });
        try {
          return (await s.jobs.list({ kind: REGISTER_JOB }))[0]!;
        } finally {
          await s.close();
        }
      })());
      assert.equal(stopped.state, 'queued');
      assert.equal(stopped.progress.phase, 'waiting-for-up');

      const restarted = (w2 = await world(w.dir));
      await restarted.services.registrations.start();
      await waitFor(
        async () => {
          if ((await nodeStatus(restarted)) === 'up') return true;
          // The simulator's clock moves one tick per look, until the host comes up.
          sim.advance(1);
          return false;
        },
        { what: 'the node to be up after the restart', timeoutMs: 30_000, intervalMs: 20 },
      );
      assert.equal(sim.requests.filter((r) => r.method === 'POST' && /\/approve$/.test(r.path)).length, 1, 'approved once, across the restart');
      assert.equal(hostsNamed(sim, 'rhevh01'), 1);
    } finally {
      await w2?.close();
      await sim.close();
    }
  });
});
