/**
 * The requests in flight on one worker, by frame id: a slot array and a free list instead of a
 * Map.
 *
 * Why not a Map: ids only ever grow, so a Map of them keeps filling with deleted entries and
 * rebuilds its table every few hundred requests. V8 links each discarded table to its successor
 * (for live iterators), and once one table has been promoted to the old generation, that dead
 * table's link keeps the next one alive through every scavenge, then the next, each holding the
 * requests that were in flight when it was built, so far more of what Node allocated survived
 * each scavenge than with this table (measured in bench/, see docs/perf-journal.md). Here a slot
 * is reused when its request ends, the array stays put, and nothing links finished requests to
 * new ones.
 *
 * An id is the slot in its low SLOT_BITS bits and a generation above them, so a late frame
 * for a request that already ended never reaches the request now in its slot.
 */

const SLOT_BITS = 16;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
/** Generations 1..GEN_MAX: ids stay in 1..0x7fffffff, never 0 (control frames) nor negative. */
const GEN_MAX = 0x7fff;

export interface Identified {
  /** Set by `add`. */
  id: number;
}

export class StreamTable<T extends Identified> {
  private readonly slots: Array<T | null> = [];
  private readonly free: number[] = [];
  private generation = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Files `entry` under a new id, which it writes into `entry.id`. */
  add(entry: T): T {
    if (this.count > SLOT_MASK) throw new Error(`more than ${SLOT_MASK + 1} requests in flight on one worker`);
    const slot = this.free.length > 0 ? (this.free.pop() as number) : this.slots.length;
    this.generation = this.generation >= GEN_MAX ? 1 : this.generation + 1;
    entry.id = (this.generation << SLOT_BITS) | slot;
    if (slot === this.slots.length) this.slots.push(entry);
    else this.slots[slot] = entry;
    this.count++;
    return entry;
  }

  /** The entry filed under `id`, or undefined if that request has ended (or never was). */
  get(id: number): T | undefined {
    const entry = this.slots[id & SLOT_MASK];
    return entry && entry.id === id ? entry : undefined;
  }

  delete(entry: T): void {
    const slot = entry.id & SLOT_MASK;
    if (this.slots[slot] !== entry) return;
    this.slots[slot] = null;
    this.free.push(slot);
    this.count--;
  }

  /** Every entry, then the table is empty. */
  takeAll(): T[] {
    const all = this.values();
    for (const entry of all) this.delete(entry);
    return all;
  }

  values(): T[] {
    const out: T[] = [];
    for (const entry of this.slots) if (entry) out.push(entry);
    return out;
  }
}
