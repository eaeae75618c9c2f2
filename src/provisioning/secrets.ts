import { randomBytes } from 'node:crypto';
import { encrypt } from 'unixcrypt';
import { RhevbootError } from '../errors.js';
import type { EventService } from '../events/events.js';
import type { Store } from '../store/store.js';

/** Crypt hashes on the installer's command line (`adminpw=`, `rhevm_admin_password=`). */
export const SECRET_ADMIN_PASSWORD = 'rhevh.admin-password';
export const SECRET_RHEVM_ADMIN_PASSWORD = 'rhevh.rhevm-admin-password';
/** Plain (not hashed): the engine needs it to SSH in when it adds a host by address (xcat-rhev.md §8.4). */
export const SECRET_HOST_ROOT_PASSWORD = 'rhevm.host-root-password';
/** Plain too: the engine logs in to the nodes' BMCs with it (IPMI power management). */
export const SECRET_PM_PASSWORD = 'rhevm.pm-password';

/** The secrets an admin may set, what each is for, and whether it is kept as given. */
export const SECRETS: Record<string, { meaning: string; plain: boolean }> = {
  [SECRET_ADMIN_PASSWORD]: { meaning: "RHEV-H 'admin' user password (adminpw=)", plain: false },
  [SECRET_RHEVM_ADMIN_PASSWORD]: { meaning: 'root password RHEV-M uses to reach the host (rhevm_admin_password=)', plain: false },
  [SECRET_HOST_ROOT_PASSWORD]: { meaning: 'the same root password in clear, only to add a host that never registered itself (optional)', plain: true },
  [SECRET_PM_PASSWORD]: { meaning: "the nodes' BMC (IPMI) password the engine fences with, for nodes with a pm.address attribute (optional)", plain: true },
};

/** Refuses a name that is no known secret, before anyone is asked to type a password for it. */
export function knownSecret(name: string): { meaning: string; plain: boolean } {
  const known = SECRETS[name];
  if (!known) throw new RhevbootError('RB_ERR_INVALID', `unknown secret '${name}'; known: ${Object.keys(SECRETS).join(', ')}`, { name });
  return known;
}

/**
 * Write-only secrets: set, listed by name, removed; never read back by a face. Where the
 * installer takes a hash and nothing needs the password again, only its SHA-512 crypt hash is kept.
 */
export class SecretService {
  constructor(private readonly deps: { store: Store; events: EventService }) {}

  async set(name: string, value: string): Promise<void> {
    const known = knownSecret(name);
    const stored = known.plain ? value : encrypt(value, `$6$${randomBytes(12).toString('base64').replace(/[^A-Za-z0-9./]/g, '.').slice(0, 16)}`);
    await this.deps.store.transaction(async (tx) => {
      await tx.secrets.set(name, stored);
      await this.deps.events.record({ kind: 'secret.set', subjectType: 'secret', subject: name, message: `secret ${name} set`, data: {} }, tx);
    });
  }

  /** Every known secret with when it was set (null: not set). */
  async list(): Promise<{ name: string; meaning: string; setAt: string | null }[]> {
    const set = new Map((await this.deps.store.secrets.list()).map((s) => [s.name, s.updatedAt]));
    return Object.entries(SECRETS).map(([name, s]) => ({ name, meaning: s.meaning, setAt: set.get(name) ?? null }));
  }

  async remove(name: string): Promise<void> {
    await this.deps.store.transaction(async (tx) => {
      if (!(await tx.secrets.remove(name))) throw new RhevbootError('RB_ERR_NOT_FOUND', `secret '${name}' is not set`, { name });
      await this.deps.events.record({ kind: 'secret.removed', subjectType: 'secret', subject: name, message: `secret ${name} removed`, data: {} }, tx);
    });
  }
}
