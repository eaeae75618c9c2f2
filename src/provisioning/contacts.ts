import type { BootPlan } from '../domain/boot.js';
import { contactStartsInstall } from '../domain/lifecycle.js';
import type { NodeStatus } from '../domain/node.js';
import type { EventService } from '../events/events.js';
import type { NewEvent, Store } from '../store/store.js';
import type { NodeLifecycle } from './lifecycle.js';
import type { NodeService } from './nodes.js';

/** A DHCP exchange as the DHCP server reports it. */
export interface DhcpContact {
  mac: string;
  type: string;
  outcome: string;
  ip?: string;
  node?: string;
}

/** A DHCPDECLINE as the DHCP server reports it: the address quarantined, or the DECLINE ignored and why. */
export interface DhcpDeclineContact {
  mac: string;
  ip?: string;
  outcome: 'quarantined' | 'ignored';
  reason: string;
  /** In words, without MACs. */
  detail: string;
  reserved?: boolean;
  quarantineSeconds?: number;
}

/** A finished TFTP transfer as the TFTP server reports it. */
export interface TftpContact {
  client: string;
  file: string;
  bytes: number;
  durationMs: number;
  outcome: string;
}

/** A boot file (kernel, initrd, loader) the HTTP server sent. */
export interface HttpFileContact {
  path: string;
  client: string;
  status: number;
  bytes: number;
  ms: number;
}

/** The event of a script fetch, kept while the same client refetches (a repeat allocates nothing). */
interface LastFetch {
  name: string;
  address: string;
  event: NewEvent;
}

/**
 * A node's boot contacts become its timeline, the first thing an admin reads when a boot stalls:
 * every DHCP exchange, TFTP transfer, boot file and config fetch of a known node is an event, and
 * the first config fetch of a node waiting for its install moves it to `installing`. The servers
 * report what they did; this is the one place that turns it into events and moves.
 */
export class BootContacts {
  private readonly lastFetch = new WeakMap<BootPlan, LastFetch>();

  constructor(private readonly deps: { store: Store; nodes: Pick<NodeService, 'atAddress'>; events: EventService; lifecycle: NodeLifecycle }) {}

  /** What a known node asked by DHCP and what it got. */
  dhcp(e: DhcpContact): void {
    if (!e.node) return;
    this.note(e.node, 'node.dhcp', `DHCP ${e.type} from ${e.mac}: ${e.outcome}${e.ip ? ` ${e.ip}` : ''}`, { ...e });
  }

  /**
   * A DECLINE that concerns a known node (the one the address is reserved for, else the one that
   * sent it) goes on its timeline: quarantined, as its `node.dhcp` contact; ignored, as
   * `node.dhcp-decline-ignored`, which is not a contact (a stranger sent it) and whose message names
   * the address but not the sender, so a flood of spoofed DECLINEs folds into one event a second
   * with a count. A pool address no node holds that is quarantined is a `dhcp.declined` event of
   * the address: RFC 2131 §4.3.3 asks that the administrator be told of the conflict. An ignored
   * DECLINE that concerns no node is only counted. Resolves once noted; never rejects.
   */
  dhcpDecline(e: DhcpDeclineContact): Promise<void> {
    const nodes = this.deps.store.nodes;
    const find = async () => (e.ip ? await nodes.byIp(e.ip) : undefined) ?? (await nodes.byMac(e.mac));
    return find()
      .then((node) => {
        const where = e.ip ?? '(no address)';
        if (node && e.outcome === 'quarantined') {
          this.note(node.name, 'node.dhcp', `DHCP DECLINE from ${e.mac}: ${where} is in use on the network, quarantined for ${e.quarantineSeconds} s`, { type: 'DECLINE', ...e });
        } else if (node) {
          this.deps.events.note({ kind: 'node.dhcp-decline-ignored', subjectType: 'node', subject: node.name, message: `DHCP DECLINE of ${where} ignored: ${e.detail}`, data: { ...e } }, { foldRepeats: true });
        } else if (e.outcome === 'quarantined' && e.ip) {
          this.deps.events.note({ kind: 'dhcp.declined', subjectType: 'address', subject: e.ip, message: `DHCP DECLINE from ${e.mac}: ${e.ip} is in use on the network, out of the pool for ${e.quarantineSeconds} s`, data: { ...e } });
        }
      })
      .catch(() => {});
  }

  /** A TFTP transfer to a node's reserved address (files not found are pxelinux's usual probing). */
  tftp(t: TftpContact): void {
    if (t.outcome === 'not-found') return;
    void this.deps.store.nodes
      .byIp(t.client)
      .then((node) => node && this.note(node.name, 'node.tftp', `TFTP ${t.file}: ${t.outcome}, ${t.bytes} bytes in ${Math.round(t.durationMs)} ms`, { ...t }))
      .catch(() => {});
  }

  /** A kernel, initrd or loader fetched over HTTP by a known node (by its address or lease). */
  httpFile(f: HttpFileContact): void {
    void this.deps.nodes
      .atAddress(f.client)
      .then((node) => node && this.note(node.name, 'node.http', `HTTP ${f.path}: ${f.status}, ${f.bytes} bytes in ${f.ms} ms`, { ...f }))
      .catch(() => {});
  }

  /** True when serving this plan's config starts the node's install: a write, so never the synchronous path. */
  startsInstall(plan: BootPlan): boolean {
    return plan.node !== undefined && plan.config !== undefined && contactStartsInstall(plan.action, plan.node.status as NodeStatus);
  }

  /**
   * A loader fetched the config of this plan (`what`: `TFTP pxelinux.cfg/01-…`, `HTTP /boot/ipxe/…`).
   * For a node waiting for its install this is the first sign: it moves to `installing`, written
   * before the answer leaves. A node that moved on meanwhile (a nodeset, the trigger) is left alone.
   */
  async configFetched(plan: BootPlan, what: string, address: string): Promise<void> {
    if (!this.startsInstall(plan)) return;
    await this.deps.lifecycle.move(
      plan.node!.name,
      { to: 'installing', cause: 'boot-contact' },
      { kind: 'node.installing', message: `${what} fetched by ${address}: installing`, data: { file: what, client: address } },
      { onlyIf: (fresh) => contactStartsInstall(fresh.bootAction, fresh.status) },
    );
  }

  /** Every fetch of an iPXE script is a step of the node's timeline (a refetch loop folds into a count). */
  scriptFetched(plan: BootPlan, name: string, address: string): void {
    if (!plan.node) return;
    let last = this.lastFetch.get(plan);
    if (!last || last.address !== address || last.name !== name) {
      const file = `/boot/ipxe/${name}`;
      // What the script does: anything but an install renders the local template.
      const action = plan.action === 'install' ? 'install' : 'local';
      const event: NewEvent = { kind: 'node.http', subjectType: 'node', subject: plan.node.name, message: `HTTP ${file}: ${action} script to ${address}`, data: { file, client: address, action } };
      this.lastFetch.set(plan, (last = { name, address, event }));
    }
    this.deps.events.note(last.event, { foldRepeats: true });
  }

  private note(node: string, kind: string, message: string, data: Record<string, unknown>): void {
    this.deps.events.note({ kind, subjectType: 'node', subject: node, message, data });
  }
}
