/**
 * The node lifecycle as a table: every (from, to, cause) is asked, and the answer must be the one
 * written out below (a second, independent statement of DESIGN.md's diagram), so a move added to or
 * dropped from the code without this table changing fails here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AFTER_TRIGGER, contactStartsInstall, LIFECYCLE_CAUSES, mayMove, moveNode, NODE_STATUSES, type LifecycleCause, type NodeStatus } from '../../src/domain/lifecycle.js';
import type { NodeRecord } from '../../src/domain/node.js';
import { isRhevbootError } from '../../src/errors.js';

/** `from > to: causes`, one line per allowed move; everything not listed is refused. */
const EXPECTED = `
defined > install: nodeset
install > install: nodeset
install > installing: boot-contact
install > booted: trigger
installing > install: nodeset
installing > booted: trigger
booted > install: nodeset
booted > registering: handoff
booted > failed: handoff
registering > install: nodeset
registering > pending_approval: handoff
registering > up: handoff
registering > failed: handoff
pending_approval > install: nodeset
pending_approval > pending_approval: handoff
pending_approval > up: handoff
pending_approval > failed: handoff
up > install: nodeset
failed > install: nodeset
`;

const allowed = new Set(
  EXPECTED.trim()
    .split('\n')
    .flatMap((line) => {
      const [, from, to, causes] = /^(\S+) > (\S+): (.+)$/.exec(line)!;
      return causes!.split(', ').map((c) => `${from} ${to} ${c}`);
    }),
);

function node(status: NodeStatus): NodeRecord {
  const at = '2026-01-01T00:00:00.000Z';
  return { name: 'n1', nics: [{ mac: '52:54:00:00:00:01', install: true }], ip: null, groups: [], distro: 'd', arch: 'x86_64', hypervisor: 'rhevh', manager: null, cluster: null, storageInit: '', kernelArgs: '', attrs: {}, bootAction: 'install', status, statusReason: 'earlier', triggerToken: 't0', createdAt: at, updatedAt: at };
}

describe('node lifecycle', () => {
  it('allows exactly the moves of the table, for every state, target and cause', () => {
    let asked = 0;
    for (const from of NODE_STATUSES) {
      for (const to of NODE_STATUSES) {
        for (const cause of LIFECYCLE_CAUSES) {
          asked++;
          const expected = allowed.has(`${from} ${to} ${cause}`);
          assert.equal(mayMove(from, to, cause), expected, `${from} -> ${to} by ${cause}`);
          const before = node(from);
          const snapshot = structuredClone(before);
          if (expected) {
            const moved = moveNode(before, { to, cause, at: '2026-02-02T00:00:00.000Z' });
            assert.equal(moved.status, to);
            assert.equal(moved.statusReason, null, 'a move clears the earlier reason');
            assert.equal(moved.updatedAt, '2026-02-02T00:00:00.000Z');
          } else {
            assert.throws(
              () => moveNode(before, { to, cause, at: '2026-02-02T00:00:00.000Z' }),
              (e: unknown) => isRhevbootError(e, 'RB_ERR_TRANSITION') && e.message === `node n1 cannot go from ${from} to ${to} by ${cause}` && e.details.cause === cause,
            );
          }
          assert.deepEqual(before, snapshot, 'the node given is never changed');
        }
      }
    }
    assert.equal(asked, NODE_STATUSES.length * NODE_STATUSES.length * LIFECYCLE_CAUSES.length);
    assert.equal(allowed.size, 19);
  });

  it('a move carries what changes with it: the trigger flips boot to local, nodeset gives a fresh token, a failure its reason', () => {
    const booted = moveNode(node('installing'), { to: 'booted', cause: 'trigger', bootAction: 'local', at: 'now' });
    assert.deepEqual([booted.bootAction, booted.triggerToken], ['local', 't0']);
    const reinstall = moveNode(node('up'), { to: 'install', cause: 'nodeset', triggerToken: 't1', at: 'now' });
    assert.deepEqual([reinstall.status, reinstall.triggerToken], ['install', 't1']);
    const failed = moveNode(node('registering'), { to: 'failed', cause: 'handoff', reason: 'install_failed', at: 'now' });
    assert.equal(failed.statusReason, 'install_failed');
  });

  it('only the first contact of a node set to install starts it', () => {
    const starts = (action: string, status: NodeStatus): boolean => contactStartsInstall(action, status);
    assert.equal(starts('install', 'install'), true);
    for (const status of NODE_STATUSES.filter((s) => s !== 'install')) assert.equal(starts('install', status), false, status);
    for (const action of ['local', 'discover']) assert.equal(starts(action, 'install'), false, action);
  });

  it('knows where a node can be once its trigger came: booted and every hand-off state after it', () => {
    assert.deepEqual([...AFTER_TRIGGER].sort(), ['booted', 'failed', 'pending_approval', 'registering', 'up']);
  });

  it('names every cause the table uses', () => {
    const used = new Set([...allowed].map((k) => k.split(' ')[2] as LifecycleCause));
    assert.deepEqual([...used].sort(), [...LIFECYCLE_CAUSES].sort());
  });
});
