// The per-instance read cache's bound: it holds at most its limit of rows, dropping the oldest
// first, so a deployment with more users than that uses a fixed amount of memory for it.
import { expect } from 'chai';
import { ReadCache } from '../../src/db/read-cache.js';

describe('read cache', () => {
  /** Reads through the cache, counting the reads that reached the "database". */
  function rig(max: number) {
    const cache = new ReadCache<{ id: string }>({ live: true }, max);
    const reads: string[] = [];
    const get = (id: string) => cache.get(id, async () => (reads.push(id), { id }));
    return { get, reads };
  }

  it('keeps at most its limit of rows, the oldest going first', async () => {
    const { get, reads } = rig(3);
    for (const id of ['a', 'b', 'c', 'd']) await get(id);
    reads.length = 0;
    for (const id of ['b', 'c', 'd']) await get(id);
    expect(reads, 'the three newest are kept').to.deep.equal([]);
    await get('a');
    expect(reads, 'the oldest was dropped when the fourth came').to.deep.equal(['a']);
  });

  it('over many distinct rows, still at most its limit: every earlier row is read again', async () => {
    const { get, reads } = rig(100);
    for (let i = 0; i < 1000; i++) await get(`user-${i}`);
    reads.length = 0;
    for (let i = 0; i < 1000; i++) await get(`user-${i}`);
    expect(reads.length, 'rows read again').to.be.at.least(900);
  });
});
