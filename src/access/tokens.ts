import { createHash, randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { RhevbootError } from '../errors.js';
import type { Store, TokenRecord } from '../store/store.js';
import type { EventService } from '../events/events.js';

const TOKEN_PREFIX = 'rbt_';
const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/**
 * Admin API tokens. A token is 256 random bits, shown once at creation and stored only as its
 * sha256: with that much entropy a fast hash is enough, and a leaked database yields no token.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class TokenService {
  constructor(private readonly store: Store, private readonly events: EventService) {}

  async create(name: string): Promise<{ token: string; record: TokenRecord }> {
    if (!TOKEN_NAME.test(name)) {
      throw new RhevbootError('RB_ERR_INVALID', `token name '${name}' must be 1-64 letters, digits, '.', '_', '@' or '-'`, { name });
    }
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const record = await this.store.transaction(async (tx) => {
      const r = await tx.tokens.create(name, hashToken(token));
      await this.events.record({ kind: 'token.created', subjectType: 'token', subject: name, message: `API token '${name}' created`, data: {} }, tx);
      return r;
    });
    return { token, record };
  }

  /** The token record for a presented bearer token, or undefined; records when it was last used. */
  async verify(token: string): Promise<TokenRecord | undefined> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 128) return undefined;
    const record = await this.store.tokens.findByHash(hashToken(token));
    if (record) await this.store.tokens.touch(record.id, new Date().toISOString());
    return record;
  }

  list(): Promise<TokenRecord[]> {
    return this.store.tokens.list();
  }

  async remove(name: string): Promise<void> {
    const removed = await this.store.transaction(async (tx) => {
      const ok = await tx.tokens.remove(name);
      if (ok) await this.events.record({ kind: 'token.removed', subjectType: 'token', subject: name, message: `API token '${name}' removed`, data: {} }, tx);
      return ok;
    });
    if (!removed) throw new RhevbootError('RB_ERR_NOT_FOUND', `no token named '${name}'`, { name });
  }

  /**
   * First start: with no token at all the API would be unusable, so one named `bootstrap` is
   * created and written to a file only root (or the service user) can read. Never logged.
   */
  async ensureBootstrap(file: string): Promise<boolean> {
    if ((await this.store.tokens.list()).length > 0) return false;
    const { token } = await this.create('bootstrap');
    await writeFile(file, token + '\n', { mode: 0o600 });
    await chmod(file, 0o600);
    return true;
  }
}
