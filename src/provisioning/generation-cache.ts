import type { Store } from '../store/store.js';

/** Enough for every client of a large estate under every name it asks for; past it, start over. */
const MAX_KEPT = 50_000;

/**
 * Answers kept under the store's boot generation, which any change to nodes, NICs, distros,
 * secrets or engines bumps, from this process or the CLI's: one cheap read decides whether a kept
 * answer is still the truth. Making a plan costs far more than serving it (store reads, secrets,
 * a template), and in a boot storm every node asks several times; unknown names are kept too
 * (pxelinux asks for a dozen names that do not exist per boot).
 */
export class GenerationCache<T> {
  private readonly kept = new Map<string, T>();
  private generation = -1;

  constructor(private readonly store: Pick<Store, 'bootGeneration' | 'bootGenerationNow'>) {}

  /** The kept answer for `key`, or `compute`'s, kept if the store did not change meanwhile. */
  async get(key: string, compute: () => Promise<T>): Promise<T> {
    const generation = await this.store.bootGeneration();
    this.use(generation);
    const hit = this.kept.get(key);
    if (hit !== undefined) return hit;
    const value = await compute();
    // Computed from a store that may have moved on meanwhile: keep it only if nothing changed.
    if ((await this.store.bootGeneration()) === generation) {
      if (this.kept.size >= MAX_KEPT) this.kept.clear();
      this.kept.set(key, value);
    }
    return value;
  }

  /**
   * The kept answer, checked against the generation read synchronously (once per turn of the event
   * loop, see the store); undefined when that read has to wait (the store is busy) or nothing is
   * kept: then `get` decides, the long way.
   */
  now(key: string): T | undefined {
    const generation = this.store.bootGenerationNow();
    if (generation === undefined) return undefined;
    this.use(generation);
    return this.kept.get(key);
  }

  private use(generation: number): void {
    if (generation === this.generation) return;
    this.kept.clear();
    this.generation = generation;
  }
}
