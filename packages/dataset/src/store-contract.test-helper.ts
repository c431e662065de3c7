import assert from 'node:assert/strict';
import { buffer } from 'node:stream/consumers';
import { it } from 'node:test';
import type { ObjectStore } from './object-store.js';
import { StoreError } from './store-error.js';

/** The behaviour every writable ObjectStore must share; run against each implementation. */
export function storeContract(store: () => ObjectStore): void {
  it('round-trips bytes through put and get, and streams them', async () => {
    const body = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    await store().put('a/b/object.bin', body);
    assert.deepEqual(await store().get('a/b/object.bin'), body);
    assert.deepEqual(await buffer(await store().getStream('a/b/object.bin')), body);
  });

  it('stats existing objects and answers undefined for missing ones', async () => {
    await store().put('stat/x', Buffer.from('hello'));
    assert.deepEqual(await store().stat('stat/x'), { key: 'stat/x', size: 5 });
    assert.equal(await store().stat('stat/missing'), undefined);
  });

  it('lists keys under a prefix, sorted, relative to the base', async () => {
    await store().put('list/2', Buffer.from('2'));
    await store().put('list/1', Buffer.from('1'));
    await store().put('listed-elsewhere', Buffer.from('x'));
    const keys = (await store().list('list/')).map((info) => info.key);
    assert.deepEqual(keys, ['list/1', 'list/2']);
  });

  it('reports a missing object as not-found with its location', async () => {
    await assert.rejects(store().get('nope/missing.bin'), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.code, 'not-found');
      assert.match(error.message, /nope\/missing\.bin/);
      return true;
    });
  });

  it('replaces an object whole on overwrite', async () => {
    await store().put('over/w', Buffer.from('first version'));
    await store().put('over/w', Buffer.from('second'));
    assert.equal((await store().get('over/w')).toString(), 'second');
  });
}
