import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamTable } from './stream-table';

interface Entry {
  id: number;
  name: string;
}

const entry = (name: string): Entry => ({ id: 0, name });

test('ids are unique, never 0, and find their entry', () => {
  const table = new StreamTable<Entry>();
  const a = table.add(entry('a'));
  const b = table.add(entry('b'));
  assert.notEqual(a.id, b.id);
  assert.ok(a.id > 0 && b.id > 0);
  assert.equal(table.get(a.id), a);
  assert.equal(table.get(b.id), b);
  assert.equal(table.size, 2);
});

test('a slot is reused once its request ended, and the old id no longer finds anything', () => {
  const table = new StreamTable<Entry>();
  const a = table.add(entry('a'));
  table.delete(a);
  assert.equal(table.size, 0);
  assert.equal(table.get(a.id), undefined);
  const c = table.add(entry('c'));
  assert.equal(c.id & 0xffff, a.id & 0xffff, 'same slot');
  assert.notEqual(c.id, a.id, 'new generation');
  assert.equal(table.get(a.id), undefined, 'a late frame for the ended request does not reach the new one');
  assert.equal(table.get(c.id), c);
});

test('deleting twice, or an entry of another generation, changes nothing', () => {
  const table = new StreamTable<Entry>();
  const a = table.add(entry('a'));
  table.delete(a);
  const b = table.add(entry('b'));
  table.delete(a);
  assert.equal(table.size, 1);
  assert.equal(table.get(b.id), b);
});

test('generations wrap without ever giving 0 or a negative id; ids of live entries never repeat', () => {
  const table = new StreamTable<Entry>();
  const held = table.add(entry('held'));
  const seen = new Set<number>();
  for (let i = 0; i < 70_000; i++) {
    const e = table.add(entry(String(i)));
    assert.ok(e.id > 0 && e.id <= 0x7fffffff, `id ${e.id}`);
    assert.notEqual(e.id, held.id);
    seen.add(e.id & 0xffff);
    table.delete(e);
  }
  assert.equal(table.get(held.id), held, 'an entry in flight all along is still found');
  assert.equal(seen.size, 1, 'the freed slot is the one reused');
});

test('takeAll returns every entry in flight and empties the table', () => {
  const table = new StreamTable<Entry>();
  const entries = ['a', 'b', 'c'].map((n) => table.add(entry(n)));
  table.delete(entries[1] as Entry);
  assert.deepEqual(table.values().map((e) => e.name), ['a', 'c']);
  assert.deepEqual(table.takeAll().map((e) => e.name), ['a', 'c']);
  assert.equal(table.size, 0);
  assert.deepEqual(table.values(), []);
});
