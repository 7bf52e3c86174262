/**
 * The global bound on what slow readers hold (--spool-memory-limit, --spool-disk-limit).
 *
 * Each response a client reads slowly is spooled (memory, then a temp file) so the worker never
 * waits for the client, and each is bounded on its own (--body-buffer-size, --max-temp-file-size).
 * Many such clients together are bounded here: every response spool adds what it holds to one
 * account, and a piece that would take the total past a limit first closes the connections whose
 * clients have gone longest without reading, until it fits. A closed response is aborted like
 * any whose client left, so its worker is told to stop and never waits.
 *
 * Request bodies are not counted: each is bounded by --limit-request-body and cut off by
 * --body-timeout / --body-min-rate, and is freed as soon as its worker has read it, while a
 * response spool is held for as long as its client chooses not to read.
 */
import { statfsSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { Logger } from '../../log/logger';
import type { SpoolAccount } from '../spool';

/** A response holding spooled bytes: what the victim choice looks at. */
export interface BudgetHolder {
  /** performance.now() of the last time its client took bytes (or fell behind, if never since). */
  readonly lastRead: number;
  readonly memoryHeld: number;
  readonly diskHeld: number;
  /** Closes the connection and frees what the response holds, at once. */
  evict(): void;
}

/** Warning lines per second about closed connections; the rest are counted in the next line. */
const WARNINGS_PER_SECOND = 5;

/**
 * The holder to close first for room in `kind`: among those holding some of it, the one whose
 * client has gone longest without reading; of equally idle ones, the one holding the most.
 */
export function chooseVictim<H extends BudgetHolder>(holders: Iterable<H>, kind: 'memory' | 'disk'): H | null {
  let victim: H | null = null;
  let victimHeld = 0;
  for (const h of holders) {
    const held = kind === 'disk' ? h.diskHeld : h.memoryHeld;
    if (held === 0) continue;
    if (victim === null || h.lastRead < victim.lastRead || (h.lastRead === victim.lastRead && held > victimHeld)) {
      victim = h;
      victimHeld = held;
    }
  }
  return victim;
}

export class SpoolBudget implements SpoolAccount {
  /** Bytes response spools hold in memory now. */
  memory = 0;
  /** Bytes of disk their temp files take now. */
  disk = 0;
  /** Connections closed to stay within the budget, since the start (for the metrics). */
  closed = 0;

  private readonly holders = new Set<BudgetHolder>();
  private windowStart = 0;
  private warned = 0;
  private unlogged = 0;

  constructor(
    readonly memoryLimit: number,
    readonly diskLimit: number,
    private readonly log: Logger,
  ) {}

  /** `holder` started spooling: it may be chosen to make room from now on until it leaves. */
  join(holder: BudgetHolder): void {
    this.holders.add(holder);
  }

  leave(holder: BudgetHolder): void {
    this.holders.delete(holder);
  }

  /**
   * Makes room for `size` more bytes in memory or on disk for `asker`, closing the idlest
   * connections as needed. False when `asker` itself was closed: its piece must be dropped.
   */
  admit(asker: BudgetHolder, size: number, toDisk: boolean): boolean {
    const kind = toDisk ? 'disk' : 'memory';
    const limit = toDisk ? this.diskLimit : this.memoryLimit;
    // Bounded: each round closes one holder, and a closed one leaves the set.
    for (let rounds = this.holders.size + 1; rounds > 0; rounds--) {
      if ((toDisk ? this.disk : this.memory) + size <= limit) return true;
      const victim = chooseVictim(this.holders, kind) ?? asker;
      this.close(victim, kind, limit);
      if (victim === asker) return false;
    }
    return (toDisk ? this.disk : this.memory) + size <= limit;
  }

  private close(victim: BudgetHolder, kind: 'memory' | 'disk', limit: number): void {
    const held = kind === 'disk' ? victim.diskHeld : victim.memoryHeld;
    const idle = ((performance.now() - victim.lastRead) / 1000).toFixed(1);
    this.closed++;
    this.holders.delete(victim);
    victim.evict();
    this.warn(
      `closed a connection whose client took no bytes for ${idle} s: its response held ${held} bytes ` +
        `of ${kind} and all slow clients together reached the limit of ${limit} (--spool-${kind}-limit); ` +
        `held now: ${this.memory} bytes in memory, ${this.disk} on disk`,
    );
  }

  /** One line per closed connection, at most WARNINGS_PER_SECOND a second; the rest counted. */
  private warn(line: string): void {
    const now = performance.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.warned = 0;
    }
    if (this.warned >= WARNINGS_PER_SECOND) {
      this.unlogged++;
      return;
    }
    this.warned++;
    const more = this.unlogged > 0 ? ` (and ${this.unlogged} more closed before, not logged)` : '';
    this.unlogged = 0;
    this.log.warning(line + more);
  }
}

const MiB = 1024 * 1024;
const DEFAULT_MEMORY_CAP = 256 * MiB;
const DEFAULT_DISK_CAP = 16 * 1024 * MiB;

/**
 * The limits, the unset ones from the machine: a quarter of its memory (at most 256 MiB) and a
 * quarter of the spool dir's free space now (at most 16 GiB), so that clients alone can never
 * take the rest from the app or from whatever else shares the disk.
 */
export function budgetLimits(memory: number | null, disk: number | null, dir: string): { memory: number; disk: number } {
  let diskLimit = disk;
  if (diskLimit === null) {
    const fs = statfsSync(dir);
    diskLimit = Math.min(DEFAULT_DISK_CAP, Math.floor((fs.bavail * fs.bsize) / 4));
  }
  return { memory: memory ?? Math.min(DEFAULT_MEMORY_CAP, Math.floor(totalmem() / 4)), disk: Math.max(1, diskLimit) };
}
