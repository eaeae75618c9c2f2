// A lab for VM tests: simulated engines with up hosts of chosen types and memory, a data
// storage domain, templates with image properties, and an appliance state dir whose store names
// those engines as managers. Hosts are added through the engine's API (they install and come up
// as the engine does them); types, memory, storage and templates are set on the simulator's state
// directly, since those come from hardware and earlier admin work, not from rhevboot.
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { RhevmClient } from '../../src/rhevm/index.js';
import { createServices, type Services } from '../../src/services.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/store.js';
import { DEFAULT_USER, EngineSim } from '../engine-sim/index.js';
import { DEFAULT_DC_ID } from '../engine-sim/state.js';
import { tempDir } from './tmp.js';

const MIB = 1024 * 1024;

export interface HostDef {
  name: string;
  type: 'rhel' | 'ovirt_node';
  memoryMiB: number;
}

let engines = 0;

export async function startEngine(version: 3 | 4, hosts: HostDef[], templates: { name: string; description: string }[] = []): Promise<EngineSim> {
  const sim = await EngineSim.start({ version, stepMs: 2 });
  // Each engine its own MAC pool range (two engines on the default pool collide, which the VM
  // service reports; these tests want distinct MACs).
  (sim.state as unknown as { macSeq: number }).macSeq = 0x16_01_00 + 0x1000 * engines++;
  const client = new RhevmClient({ url: sim.url, username: DEFAULT_USER.user, password: DEFAULT_USER.password, pollIntervalMs: 20 });
  try {
    for (const h of hosts) await client.hosts.add({ name: h.name, address: `${h.name}.lab`, rootPassword: 'secret', cluster: { name: 'Default' } });
  } finally {
    await client.close();
  }
  await sim.waitFor(() => hosts.every((h) => sim.hostByName(h.name)?.status === 'up'));
  for (const h of hosts) Object.assign(sim.hostByName(h.name)!, { type: h.type, memory: h.memoryMiB * MIB });
  const st = sim.state;
  const sdId = st.newId();
  st.storageDomains.set(sdId, {
    id: sdId, name: 'data1', type: 'data', storage: { type: 'nfs', address: 'nfs.lab', path: '/data1', luns: [] }, master: true,
    available: 500 * 1024 * MIB, used: 0, committed: 0, storageFormat: 'v3', attachments: new Map([[DEFAULT_DC_ID, 'active']]), files: [],
  });
  for (const t of templates) {
    const id = st.newId();
    st.templates.set(id, { id, name: t.name, description: t.description, status: 'ok', memory: 1024 * MIB, cpu: { sockets: 1, cores: 1, threads: 1 }, osType: 'rhel_7x64', boot: ['hd'], type: 'server', disks: [], creationTime: new Date(), nics: [] });
  }
  return sim;
}

export interface Appliance {
  env: NodeJS.ProcessEnv;
  store: Store;
  services: Services;
  close(): Promise<void>;
}

/** A state dir (for the CLI) and in-process services on the same store, with the engines as managers. */
export async function applianceWith(engines: { name: string; sim: EngineSim }[]): Promise<Appliance> {
  const stateDir = await tempDir('rhevboot-vms-');
  const env = { RHEVBOOT_STATE_DIR: stateDir, RHEVBOOT_RHEVM_POLL_INTERVAL_MS: '50', RHEVBOOT_DHCP_SUBNETS: '' };
  const loaded = loadConfig({ env });
  const store = openSqliteStore({ dir: stateDir, busyTimeoutMs: 5000 });
  for (const e of engines) await store.engines.put({ name: e.name, url: e.sim.url, username: DEFAULT_USER.user, password: DEFAULT_USER.password, caPem: null, caFingerprint: null, apiVersion: null });
  const services = createServices(loaded.config, store, pino({ level: 'silent' }));
  return { env, store, services, close: () => store.close() };
}
