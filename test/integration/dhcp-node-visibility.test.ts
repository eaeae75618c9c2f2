/**
 * Issue 5's rule on the DHCP path: the server must not cache what the CLI can change behind its
 * back. The CLI is another SQLite connection (another process) on the same WAL file; a node it
 * adds, renames or removes must be what the very next packet gets. This is the guard for any node
 * cache on the packet path: one that is not invalidated by another connection's commit fails here.
 *
 * And the group-commit contract: an ACK leaves only after its lease is committed, a failed commit
 * sends no ACK, and a burst is committed in far fewer transactions than it has leases.
 *
 * Traffic stays on loopback: RENEWING REQUESTs (ciaddr set) are answered by unicast to ciaddr.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { DhcpSubnetConfig } from '../../src/config/load.js';
import type { NodeRecord } from '../../src/domain/node.js';
import { startDhcpServer, type DhcpServer } from '../../src/dhcp/server.js';
import { OPT, typed, type TypedOptions } from '../../src/dhcp/options.js';
import { formatPacket, macToChaddr, MSG, parsePacket } from '../../src/dhcp/packet.js';
import { Booter } from '../../src/provisioning/booter.js';
import { loadDescriptors } from '../../src/media/descriptors.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { LeaseRecord, LeaseRepository, Store } from '../../src/store/store.js';
import { freePort, waitFor } from '../helpers/fixtures.js';

const SUBNET: DhcpSubnetConfig = {
  subnet: '127.0.0.0/24',
  pools: ['127.0.0.1-127.0.0.1'],
  routers: [],
  dnsServers: [],
  domainName: '',
  leaseSeconds: 3600,
  unknownClients: 'discover',
};
const LOADERS = { biosLoader: 'pxelinux.0', uefiLoader: 'syslinux.efi', httpBase: 'http://127.0.0.2' } as const;
const log = pino({ level: 'silent' });

function node(name: string, mac: string): NodeRecord {
  const at = new Date().toISOString();
  return {
    name,
    nics: [{ mac, install: true }],
    ip: '127.0.0.1',
    groups: [],
    distro: null,
    arch: 'x86_64',
    hypervisor: 'rhevh',
    manager: null,
    cluster: null,
    storageInit: null,
    kernelArgs: '',
    attrs: {},
    bootAction: 'install',
    status: 'defined',
    statusReason: null,
    triggerToken: null,
    createdAt: at,
    updatedAt: at,
  };
}

/** An x86-64 UEFI PXE client renewing 127.0.0.1: the reply comes back to 127.0.0.1:<client port>. */
class Client {
  private xid = 0x5100;
  private waiting = new Map<number, (o: TypedOptions & { file: string }) => void>();

  private constructor(readonly sock: dgram.Socket, private readonly serverPort: number) {
    sock.on('message', (m) => {
      const p = parsePacket(m);
      if (!p.ok) return;
      this.waiting.get(p.packet.xid)?.({ ...typed(p.packet.options), file: p.packet.file });
    });
  }

  static async open(serverPort: number): Promise<Client> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
    return new Client(sock, serverPort);
  }

  get port(): number {
    return this.sock.address().port;
  }

  /** The reply to one REQUEST, or undefined after `timeoutMs`. */
  renew(mac: string, timeoutMs = 5000): Promise<(TypedOptions & { file: string }) | undefined> {
    return this.ask(MSG.REQUEST, mac, timeoutMs);
  }

  /**
   * The reply to an INFORM: configuration only, nothing to commit, so it is answered at once, from
   * the socket the REQUESTs' ACKs leave from. Loopback keeps a socket pair's datagrams in order:
   * an ACK that left before it arrives before it.
   */
  inform(mac: string, timeoutMs = 5000): Promise<(TypedOptions & { file: string }) | undefined> {
    return this.ask(MSG.INFORM, mac, timeoutMs);
  }

  private ask(type: number, mac: string, timeoutMs: number): Promise<(TypedOptions & { file: string }) | undefined> {
    const xid = ++this.xid;
    const options = new Map<number, Buffer>([
      [OPT.MESSAGE_TYPE, Buffer.from([type])],
      [OPT.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00007:UNDI:003016')],
      [OPT.CLIENT_ARCH, Buffer.from([0, 7])],
    ]);
    const buf = formatPacket({
      op: 1, htype: 1, hlen: 6, hops: 0, xid, secs: 0, flags: 0,
      ciaddr: '127.0.0.1', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
      chaddr: macToChaddr(mac), sname: '', file: '', options,
    });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(xid);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(xid, (o) => {
        clearTimeout(timer);
        this.waiting.delete(xid);
        resolve(o);
      });
      this.sock.send(buf, this.serverPort, '127.0.0.1');
    });
  }

  close(): void {
    this.sock.close();
  }
}

async function start(leases: LeaseRepository, booterStore: Store, clientPort: number, port: number, commitIntervalMs?: number): Promise<DhcpServer> {
  return startDhcpServer({
    mode: 'full',
    serverAddress: '127.0.0.2',
    bindAddress: '127.0.0.1',
    port,
    proxyPort: 0,
    clientPort,
    subnets: [SUBNET],
    booter: new Booter({ store: booterStore, descriptors: loadDescriptors(), loaders: LOADERS }),
    leases,
    log,
    ...(commitIntervalMs === undefined ? {} : { commitIntervalMs }),
  });
}

describe('dhcp: nodes changed by another connection are seen by the next packet', () => {
  let dir: string;
  let server: Store;
  let cli: Store;
  let dhcp: DhcpServer;
  let client: Client;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rbd-visibility-'));
    server = openSqliteStore({ dir });
    // A second connection on the same file, as `rhevboot node ...` next to a running serve.
    cli = openSqliteStore({ dir });
    const port = await freePort();
    client = await Client.open(port);
    dhcp = await start(server.leases, server, client.port, port);
  });

  after(async () => {
    client.close();
    await dhcp.close();
    await cli.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('add, rename, change and remove from the other connection each show in the next reply', async () => {
    const mac = '52:54:00:5e:00:01';
    // Warm whatever a server might cache: the MAC is unknown, several times over.
    for (let i = 0; i < 3; i++) {
      const r = await client.renew(mac);
      assert.equal(r?.messageType, MSG.ACK);
      assert.equal(r?.hostname, undefined, 'an unknown client gets no host name');
    }

    await cli.nodes.putMany([node('rack1-n01', mac)]);
    let r = await client.renew(mac);
    assert.equal(r?.hostname, 'rack1-n01', 'a node added by another connection is known at the next packet');
    assert.equal(r?.file, 'syslinux.efi');

    await cli.transaction(async (tx) => {
      await tx.nodes.remove(['rack1-n01']);
      await tx.nodes.putMany([node('rack1-n02', mac)]);
    });
    r = await client.renew(mac);
    assert.equal(r?.hostname, 'rack1-n02', 'a rename is seen at the next packet');

    // A change of what the node boots: local boot under syslinux.efi offers no boot file at all.
    await cli.nodes.putMany([{ ...node('rack1-n02', mac), bootAction: 'local' }]);
    r = await client.renew(mac);
    assert.equal(r?.hostname, 'rack1-n02');
    assert.equal(r?.file, '', 'nodeset local from another connection is seen at the next packet');
    assert.equal(r?.bootFile, undefined);

    await cli.nodes.remove(['rack1-n02']);
    r = await client.renew(mac);
    assert.equal(r?.messageType, MSG.ACK);
    assert.equal(r?.hostname, undefined, 'a node removed by another connection is unknown at the next packet');
  });
});

describe('dhcp group commit: ACKs wait for their commit', () => {
  /** Lease writes the test holds open, fails, or lets through, counting transactions. */
  function heldLeases(costMs = 0) {
    const commits: LeaseRecord[][] = [];
    let started = 0;
    let gate: Promise<void> = Promise.resolve();
    let open: () => void = () => {};
    let failNext = false;
    const repo: LeaseRepository = {
      async all() {
        return [];
      },
      async get() {
        return undefined;
      },
      async upsertMany(rows) {
        started++;
        await gate;
        // A synchronous commit of `costMs`, as better-sqlite3's is.
        const until = performance.now() + costMs;
        while (performance.now() < until);
        if (failNext) {
          failNext = false;
          throw new Error('disk I/O error');
        }
        commits.push([...rows]);
      },
      async remove() {},
    };
    return {
      repo,
      commits,
      /** Commits begun, held ones included. */
      started: () => started,
      hold() {
        gate = new Promise((res) => (open = res));
      },
      release() {
        open();
      },
      failNext() {
        failNext = true;
      },
    };
  }

  let dir: string;
  let store: Store;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'rbd-groupcommit-'));
    store = openSqliteStore({ dir });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('no ACK before its lease is committed, none when the commit fails, and the client is answered once the store is back', async () => {
    const leases = heldLeases();
    const port = await freePort();
    const client = await Client.open(port);
    const dhcp = await start(leases.repo, store, client.port, port);
    try {
      const mac = '52:54:00:5e:00:02';
      leases.hold();
      let acked = false;
      const pending = client.renew(mac).then((r) => ((acked = r !== undefined), r));
      await waitFor(() => leases.started() === 1, { what: 'the lease commit to begin' });
      // With the commit under way (and held), an INFORM's ACK overtakes nothing: had the REQUEST's
      // ACK left already, it would have arrived first.
      assert.equal((await client.inform(mac))?.messageType, MSG.ACK);
      assert.equal(acked, false, 'the ACK must not leave while its commit is open');
      leases.release();
      const r = await pending;
      assert.equal(r?.messageType, MSG.ACK);
      assert.equal(leases.commits.flat().filter((l) => l.mac === mac).length, 1);

      leases.failNext();
      let lateAck: unknown;
      const failed = client.renew(mac, 500).then((x) => (lateAck = x));
      await waitFor(() => dhcp.stats().persistFailures === 1, { what: 'the commit to fail' });
      assert.equal((await client.inform(mac))?.messageType, MSG.ACK);
      assert.equal(lateAck, undefined, 'a lease that is not on disk is not ACKed');
      assert.equal(await failed, undefined, 'nor later');
      assert.equal((await client.renew(mac))?.messageType, MSG.ACK, 'answered again once commits succeed');
    } finally {
      // A failed assertion may leave the commit held: close drains it.
      leases.release();
      client.close();
      await dhcp.close();
    }
  });

  it('a burst is committed in far fewer transactions than it has leases, every lease before its ACK', async () => {
    // Commits of at least 1 ms: the pacer starts each at least 10 ms after the one before (10x its
    // cost, capped at 20).
    const leases = heldLeases(1);
    const port = await freePort();
    const client = await Client.open(port);
    const dhcp = await start(leases.repo, store, client.port, port, 20);
    try {
      // The pool is one address, so the burst is one client renewing 60 times (another MAC would
      // be NAKed, and NAKs are not persisted): 60 leases to write, one per ACK.
      const mac = '52:54:00:5e:01:01';
      const firstSent = performance.now();
      let lastReply = firstSent;
      const replies = await Promise.all(Array.from({ length: 60 }, async (_, i) => {
        await new Promise((res) => setTimeout(res, i));
        const r = await client.renew(mac);
        lastReply = performance.now();
        return r;
      }));
      assert.equal(replies.filter((r) => r?.messageType === MSG.ACK).length, 60);
      const persisted = leases.commits.flat().length;
      assert.equal(persisted, 60, 'every ACKed renewal was written');
      // Every commit but the first holds a request read after the one before it began, so all but
      // the last began within the span in which the server read the burst (from the first send to
      // the last reply, on the pacer's clock), 10 ms or more apart. A machine that stretches the
      // span loosens the bound; a commit per turn (~60) exceeds it by far.
      const span = lastReply - firstSent;
      const bound = Math.floor(span / 10) + 2;
      assert.ok(leases.commits.length <= bound, `${leases.commits.length} commits for 60 leases read within ${Math.round(span)} ms (at most ${bound})`);
    } finally {
      client.close();
      await dhcp.close();
    }
  });
});
