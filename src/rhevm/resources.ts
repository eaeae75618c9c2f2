/**
 * Shared machinery of the typed facade: a collection of one entity kind under a path, with list,
 * search, get, lookup by name, add-with-lookup and remove. Specific resources (hosts, VMs, …)
 * extend it with their actions.
 */
import type { CallOptions, Connection, Op } from './connection.js';
import { actionBody, type ActionParams } from './encode.js';
import { EngineFault } from './errors.js';
import type { ActionResult, ApiVersion, EntityKind, EntityKinds } from './model.js';
import { collectionUrl, type ListOptions } from './search.js';
import type { XEl } from '../xml/tree.js';

export type Opts = CallOptions & { op?: Op };

export class Collection<K extends EntityKind> {
  constructor(
    protected readonly conn: Connection,
    readonly kind: K,
    /** Path relative to the API root, e.g. `vms`, `hosts/{id}/nics`. */
    readonly path: string,
  ) {}

  protected op(o: Opts = {}): Op {
    return o.op ?? this.conn.op(o);
  }

  protected async version(o: Op): Promise<ApiVersion> {
    return (await this.conn.api(o)).version;
  }

  async list(opts: ListOptions & Opts = {}): Promise<EntityKinds[K][]> {
    const o = this.op(opts);
    return this.conn.listEntities(this.kind, collectionUrl(this.path, await this.version(o), opts), o);
  }

  async get(id: string, opts: Opts = {}): Promise<EntityKinds[K]> {
    return this.conn.getEntity(this.kind, `${this.path}/${encodeURIComponent(id)}`, this.op(opts));
  }

  /** Like `get`, but an unknown id is `undefined` instead of a 404 fault. */
  async find(id: string, opts: Opts = {}): Promise<EntityKinds[K] | undefined> {
    return this.conn.findEntity(this.kind, `${this.path}/${encodeURIComponent(id)}`, this.op(opts));
  }

  /**
   * The entity with exactly this name. Searches `name=<name>` and then compares exactly (the
   * search is case-insensitive and may match more). Sub-collections and engines that refuse
   * the search (3.0 networks, xcat-rhev.md §4.2) are listed whole and filtered here.
   */
  async findByName(name: string, opts: Opts = {}): Promise<EntityKinds[K] | undefined> {
    const o = this.op(opts);
    let items: EntityKinds[K][];
    if (this.searchable) {
      try {
        items = await this.list({ search: { name }, op: o });
      } catch (err) {
        if (!(err instanceof EngineFault) || err.status !== 400) throw err;
        items = await this.list({ op: o });
      }
    } else {
      items = await this.list({ op: o });
    }
    return items.find((e) => e.name === name);
  }

  /** Top-level collections support `?search=`; nested ones (`hosts/{id}/nics`) do not. */
  protected get searchable(): boolean {
    return !this.path.includes('/');
  }

  /** POST with the look-up-by-name-before-retry rule (§10). */
  protected async addBody(body: XEl, name: string | undefined, o: Op, query = ''): Promise<EntityKinds[K]> {
    return this.conn.addEntity(this.kind, `${this.path}${query}`, body, o, async () => (name === undefined ? undefined : this.findByName(name, { op: o })));
  }

  protected async action(id: string, name: string, params: ActionParams, o: Op): Promise<ActionResult> {
    return this.conn.action(`${this.path}/${encodeURIComponent(id)}`, name, params, o);
  }

  /** DELETE; options are query params in v4 and an `<action>` body in v3 (§5.1). */
  async remove(id: string, opts: Opts & { force?: boolean } = {}): Promise<void> {
    const o = this.op(opts);
    const v = await this.version(o);
    const p = `${this.path}/${encodeURIComponent(id)}`;
    if (v === 3) await this.conn.remove(p, o, opts.force ? { body: actionBody(3, { force: true }) } : {});
    else await this.conn.remove(p, o, { query: { force: opts.force ? true : undefined } });
  }

  /** Poll the entity until its status is one of `want`; `failOn` states end the wait as failed. */
  async waitForStatus(
    id: string,
    want: string[],
    opts: Opts & { failOn?: string[]; timeoutMs?: number; intervalMs?: number } = {},
  ): Promise<EntityKinds[K]> {
    const o = this.op(opts);
    return this.conn.waitFor(
      () => this.get(id, { op: o }),
      (e) => want.includes((e as { status?: string }).status ?? ''),
      {
        what: `${this.kind} ${id} to become ${want.join('|')}`,
        op: o,
        ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }),
        ...(opts.intervalMs !== undefined && { intervalMs: opts.intervalMs }),
        fail: (e) => {
          const st = (e as { status?: string; statusDetail?: string }).status;
          if (st && opts.failOn?.includes(st)) {
            const detail = (e as { statusDetail?: string }).statusDetail;
            return `engine reports ${st}${detail ? ` (${detail})` : ''}`;
          }
          return undefined;
        },
      },
    );
  }
}
