import { compareNodeNames } from '../domain/noderange.js';
import { validateGroupName } from '../domain/node.js';
import { RhevbootError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { EventService } from '../events/events.js';
import type { NodeService } from './nodes.js';

export interface GroupSummary {
  name: string;
  members: string[];
}

/**
 * Groups as xCAT admins use them: names for sets of nodes (a rack, a cluster, a batch) that any
 * noderange can use (`rack3`, `all,-rack3`). A group exists while it has members; it is stored on
 * its nodes, so removing a node can never leave a dangling membership.
 */
export class GroupService {
  constructor(private readonly store: Store, private readonly nodes: NodeService, private readonly events: EventService) {}

  async list(): Promise<GroupSummary[]> {
    const groups = new Map<string, string[]>();
    for (const n of await this.store.nodes.list()) for (const g of n.groups) groups.set(g, [...(groups.get(g) ?? []), n.name]);
    return [...groups]
      .map(([name, members]) => ({ name, members: members.sort(compareNodeNames) }))
      .sort((a, b) => compareNodeNames(a.name, b.name));
  }

  async get(name: string): Promise<GroupSummary> {
    const group = (await this.list()).find((g) => g.name === name);
    if (!group) throw new RhevbootError('RB_ERR_NOT_FOUND', `no group named ${name}`, { name });
    return group;
  }

  /** Puts the nodes of a range into a group (one transaction); returns the nodes that joined. */
  async addMembers(group: string, noderange: string): Promise<string[]> {
    const problem = validateGroupName(group);
    if (problem) throw new RhevbootError('RB_ERR_INVALID', problem, { field: 'group' });
    return this.change(group, noderange, 'joined', (groups) => (groups.includes(group) ? undefined : [...groups, group]));
  }

  /** Takes the nodes of a range (default: every member) out of a group; returns those that left. */
  async removeMembers(group: string, noderange?: string): Promise<string[]> {
    const members = (await this.get(group)).members;
    const left = await this.change(group, noderange ?? members.join(','), 'left', (groups) => (groups.includes(group) ? groups.filter((g) => g !== group) : undefined));
    return left;
  }

  private async change(group: string, noderange: string, verb: 'joined' | 'left', next: (groups: string[]) => string[] | undefined): Promise<string[]> {
    return this.store.transaction(async (tx) => {
      if (verb === 'joined' && (await tx.nodes.get(group))) {
        // A word that is both a node and a group means the node: such a group could never be named.
        throw new RhevbootError('RB_ERR_CONFLICT', `${group} is a node's name; a group cannot share it`, { field: 'group' });
      }
      const now = new Date().toISOString();
      const changed = (await this.nodes.resolve(noderange, tx)).flatMap((n) => {
        const groups = next(n.groups);
        return groups ? [{ ...n, groups, updatedAt: now }] : [];
      });
      await tx.nodes.putMany(changed);
      for (const n of changed) {
        await this.events.record({ kind: 'node.changed', subjectType: 'node', subject: n.name, message: `node ${n.name} ${verb} group ${group}`, data: { fields: ['groups'], group } }, tx);
      }
      return changed.map((n) => n.name);
    });
  }
}
