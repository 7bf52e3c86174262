import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { budgetLimits, chooseVictim, SpoolBudget, type BudgetHolder } from './budget';
import type { Logger } from '../../log/logger';

function recorder(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const log: Logger = {
    debug() {},
    info() {},
    warning: (line: string) => void warnings.push(line),
    error() {},
    critical() {},
    isEnabled: () => true,
    flush: async () => {},
    close: async () => {},
    reopen: () => null,
    passLines: () => {},
  };
  return { log, warnings };
}

/** A holder that gives its bytes back to `budget` when evicted, as a sink's spool does. */
class Holder implements BudgetHolder {
  evicted = false;
  constructor(
    readonly name: string,
    public lastRead: number,
    public memoryHeld: number,
    public diskHeld: number,
    private readonly budget: SpoolBudget | null = null,
  ) {
    if (budget) {
      budget.memory += memoryHeld;
      budget.disk += diskHeld;
      budget.join(this);
    }
  }
  evict(): void {
    this.evicted = true;
    if (this.budget) {
      this.budget.memory -= this.memoryHeld;
      this.budget.disk -= this.diskHeld;
      this.budget.leave(this);
    }
    this.memoryHeld = this.diskHeld = 0;
  }
}

test('the victim is the holder idle longest, the bigger one of equally idle ones', () => {
  const a = new Holder('a', 300, 10, 100);
  const b = new Holder('b', 100, 10, 5);
  const c = new Holder('c', 100, 10, 50);
  const d = new Holder('d', 200, 10, 500);
  assert.equal(chooseVictim([a, b, c, d], 'disk')?.name, 'c');
  assert.equal(chooseVictim([a, b, d], 'disk')?.name, 'b');
  assert.equal(chooseVictim([a, d], 'disk')?.name, 'd');
});

test('a holder with none of the scarce kind is never chosen: closing it frees nothing', () => {
  const idleMemoryOnly = new Holder('m', 0, 1000, 0);
  const busierOnDisk = new Holder('f', 500, 0, 10);
  assert.equal(chooseVictim([idleMemoryOnly, busierOnDisk], 'disk')?.name, 'f');
  assert.equal(chooseVictim([idleMemoryOnly, busierOnDisk], 'memory')?.name, 'm');
  assert.equal(chooseVictim([busierOnDisk], 'memory'), null);
  assert.equal(chooseVictim([], 'disk'), null);
});

test('admit closes the idlest holders until the piece fits, and counts and logs each', () => {
  const { log, warnings } = recorder();
  const budget = new SpoolBudget(1000, 1000, log);
  const old = new Holder('old', 10, 0, 400, budget);
  const mid = new Holder('mid', 20, 0, 400, budget);
  const asker = new Holder('asker', 30, 0, 100, budget);
  assert.equal(budget.disk, 900);
  assert.equal(budget.admit(asker, 50, true), true, 'fits: nobody closed');
  assert.equal(budget.closed, 0);
  assert.equal(budget.admit(asker, 300, true), true);
  assert.deepEqual([old.evicted, mid.evicted, asker.evicted], [true, false, false]);
  assert.equal(budget.disk, 500);
  assert.equal(budget.closed, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] as string, /held 400 bytes of disk .*--spool-disk-limit/);
});

test('admit closes the asker itself when it is the idlest, and says so', () => {
  const { log } = recorder();
  const budget = new SpoolBudget(1000, 1000, log);
  const asker = new Holder('asker', 5, 0, 900, budget);
  const reader = new Holder('reader', 50, 0, 50, budget);
  assert.equal(budget.admit(asker, 200, true), false);
  assert.equal(asker.evicted, true);
  assert.equal(reader.evicted, false);
  assert.equal(budget.disk, 50);
});

test('a piece bigger than the whole limit closes its own response, never loops', () => {
  const { log } = recorder();
  const budget = new SpoolBudget(100, 100, log);
  const other = new Holder('other', 1, 50, 0, budget);
  const asker = new Holder('asker', 2, 0, 0, budget);
  assert.equal(budget.admit(asker, 500, false), false);
  assert.equal(other.evicted, true);
  assert.equal(asker.evicted, true);
  assert.equal(budget.memory, 0);
  assert.equal(budget.closed, 2);
});

test('warnings are rate-limited, and the next logged line counts those left out', () => {
  const { log, warnings } = recorder();
  const budget = new SpoolBudget(10, 10, log);
  const holders = Array.from({ length: 20 }, (_, i) => new Holder(`h${i}`, i, 0, 1, budget));
  const asker = new Holder('asker', 100, 0, 0, budget);
  assert.equal(budget.admit(asker, 10, true), true);
  assert.equal(holders.filter((h) => h.evicted).length, 20);
  assert.equal(budget.closed, 20);
  assert.ok(warnings.length >= 1 && warnings.length <= 5, `${warnings.length} lines`);
});

test('unset limits come from the machine and stay within their caps', () => {
  const limits = budgetLimits(null, null, tmpdir());
  assert.ok(limits.memory > 0 && limits.memory <= 256 * 1024 * 1024);
  assert.ok(limits.disk > 0 && limits.disk <= 16 * 1024 * 1024 * 1024);
  assert.deepEqual(budgetLimits(5, 7, tmpdir()), { memory: 5, disk: 7 });
});
