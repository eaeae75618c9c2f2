/**
 * The typed facade of one engine: `new RhevmClient({ url, username, password, caPem })` and then
 * `client.hosts.findByHostName(…)`, `client.vms.start(id)`, …  Everything below it is in
 * connection.ts (semantics), transport.ts (HTTP/TLS), auth.ts and the pure codec.
 *
 * Each public call is one logical operation with its own Correlation-Id, reused by its retries
 * and polls; pass `{ correlationId }` to tie several calls to one job, `{ signal }` to cancel.
 */
import { inspect } from 'node:util';
import { Connection, type CallOptions, type ConnectionOptions } from './connection.js';
import type { ApiInfo } from './detect.js';
import { Hosts } from './hosts.js';
import { Clusters, DataCenters, Jobs, Networks, StorageDomains, Templates } from './ve.js';
import { Vms } from './vms.js';

export type RhevmClientOptions = ConnectionOptions;

export class RhevmClient {
  readonly conn: Connection;
  readonly hosts: Hosts;
  readonly vms: Vms;
  readonly clusters: Clusters;
  readonly datacenters: DataCenters;
  readonly networks: Networks;
  readonly storageDomains: StorageDomains;
  readonly templates: Templates;
  readonly jobs: Jobs;

  constructor(opts: RhevmClientOptions) {
    this.conn = new Connection(opts);
    this.hosts = new Hosts(this.conn);
    this.vms = new Vms(this.conn);
    this.clusters = new Clusters(this.conn);
    this.datacenters = new DataCenters(this.conn);
    this.networks = new Networks(this.conn);
    this.storageDomains = new StorageDomains(this.conn);
    this.templates = new Templates(this.conn);
    this.jobs = new Jobs(this.conn);
  }

  /** Detect the API (path and version) and authenticate; later calls reuse both. */
  async connect(opts: CallOptions = {}): Promise<ApiInfo> {
    const o = this.conn.op(opts);
    const api = await this.conn.api(o);
    // One authenticated call proves the credentials under the auth scheme of that version.
    this.conn.check(await this.conn.send('GET', api.path, o), 'GET', api.path, o);
    return api;
  }

  async api(opts: CallOptions = {}): Promise<ApiInfo> {
    return this.conn.api(this.conn.op(opts));
  }

  async close(): Promise<void> {
    await this.conn.close();
  }

  toJSON(): object {
    return this.conn.toJSON();
  }
  [inspect.custom](): string {
    return `RhevmClient { ${this.conn.toString()} }`;
  }
  toString(): string {
    return `RhevmClient(${this.conn.toString()})`;
  }
}
