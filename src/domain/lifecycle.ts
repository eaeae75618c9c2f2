/**
 * A node's lifecycle (DESIGN.md): which states there are, which moves between them are allowed,
 * and who may cause each. Every status a service writes is made here, so a hand-off that finishes
 * after an admin re-installed the node cannot mark it `up`, and a stranger's fetch cannot move a
 * node that was not waiting for its install. Pure: a node record in, a node record (or a refusal)
 * out.
 *
 *     defined ──nodeset install──▶ install ──boot contact──▶ installing
 *     install, installing ──trigger──▶ booted ──hand-off──▶ registering
 *     registering ──hand-off──▶ pending_approval ──hand-off──▶ up
 *     registering ──hand-off──▶ up            (an engine that approves by itself)
 *     booted, registering, pending_approval ──hand-off──▶ failed (the engine's words)
 *     any ──nodeset install──▶ install        (a re-install starts over, whatever the state)
 *
 * `nodeset local|next|discover` change what a node boots, not where it stands, so they are not
 * moves here.
 */
import { RhevbootError } from '../errors.js';
import type { BootAction, NodeRecord, NodeStatus } from './node.js';

export { NODE_STATUSES, type NodeStatus } from './node.js';

/** Who moves a node: the admin's nodeset, the node's own boot contact, the installer's trigger, the hand-off job. */
export type LifecycleCause = 'nodeset' | 'boot-contact' | 'trigger' | 'handoff';

export const LIFECYCLE_CAUSES: readonly LifecycleCause[] = ['nodeset', 'boot-contact', 'trigger', 'handoff'];

type Moves = Partial<Record<NodeStatus, readonly LifecycleCause[]>>;

const HANDOFF = ['handoff'] as const;
const REINSTALL: Moves = { install: ['nodeset'] };

/** From each state: the states it may move to, and the causes that may move it there. */
const MOVES: Record<NodeStatus, Moves> = {
  defined: { ...REINSTALL },
  install: { ...REINSTALL, installing: ['boot-contact'], booted: ['trigger'] },
  installing: { ...REINSTALL, booted: ['trigger'] },
  booted: { ...REINSTALL, registering: HANDOFF, failed: HANDOFF },
  // A resumed hand-off finds its host again: pending_approval is said again, harmlessly.
  registering: { ...REINSTALL, pending_approval: HANDOFF, up: HANDOFF, failed: HANDOFF },
  pending_approval: { ...REINSTALL, pending_approval: HANDOFF, up: HANDOFF, failed: HANDOFF },
  up: { ...REINSTALL },
  failed: { ...REINSTALL },
};

/** True when `cause` may move a node from `from` to `to`. */
export function mayMove(from: NodeStatus, to: NodeStatus, cause: LifecycleCause): boolean {
  return MOVES[from][to]?.includes(cause) ?? false;
}

/** The moves the table allows, for the diagram and the tests. */
export function allowedMoves(): { from: NodeStatus; to: NodeStatus; causes: readonly LifecycleCause[] }[] {
  return Object.entries(MOVES).flatMap(([from, moves]) =>
    Object.entries(moves).map(([to, causes]) => ({ from: from as NodeStatus, to: to as NodeStatus, causes: causes! })),
  );
}

export interface Move {
  to: NodeStatus;
  cause: LifecycleCause;
  /** Why the node is where it is now (a failure's words); cleared by any other move. */
  reason?: string;
  /** What the node boots from now on, when the move changes it too (the trigger flips it to local). */
  bootAction?: BootAction;
  /** The install's trigger token, for a move that starts an install. */
  triggerToken?: string | null;
  /** ISO time of the move. */
  at: string;
}

/**
 * The node after the move, or RB_ERR_TRANSITION naming the state, the target and the cause when the
 * lifecycle does not allow it (nothing is changed then).
 */
export function moveNode(node: NodeRecord, move: Move): NodeRecord {
  if (!mayMove(node.status, move.to, move.cause)) {
    throw new RhevbootError('RB_ERR_TRANSITION', `node ${node.name} cannot go from ${node.status} to ${move.to} by ${move.cause}`, {
      node: node.name,
      from: node.status,
      to: move.to,
      cause: move.cause,
    });
  }
  return {
    ...node,
    status: move.to,
    statusReason: move.reason ?? null,
    bootAction: move.bootAction ?? node.bootAction,
    triggerToken: move.triggerToken === undefined ? node.triggerToken : move.triggerToken,
    updatedAt: move.at,
  };
}

/**
 * Where a node can be once its install's trigger came: `booted` and everything the hand-off moves
 * it to from there (derived from the table, so a new hand-off state is included). An installer
 * that retries the trigger in any of these gets its success again and changes nothing.
 */
export const AFTER_TRIGGER: ReadonlySet<NodeStatus> = (() => {
  const seen = new Set<NodeStatus>(['booted']);
  for (const from of seen) for (const { to, causes } of allowedMoves().filter((m) => m.from === from)) if (causes.includes('handoff')) seen.add(to);
  return seen;
})();

/**
 * A boot contact (a config fetched) starts the install only of a node set to install that has
 * not been seen since its nodeset: the first sign, written once.
 */
export function contactStartsInstall(bootAction: string, status: NodeStatus): boolean {
  return bootAction === 'install' && mayMove(status, 'installing', 'boot-contact');
}

/** What `nodeset next` means: after an install comes local boot; otherwise nothing changes. */
export function nextAction(current: BootAction, status: NodeStatus): BootAction {
  if (current === 'install' || status === 'booted') return 'local';
  return current;
}
