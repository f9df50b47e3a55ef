// Runs the session store contract against both implementations: the in-memory store with a clock
// the test moves, and Redis (real waits) under a key prefix of its own, removed afterwards.
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { MemorySessionStore } from '../../src/store/memory.js';
import { RedisSessionStore } from '../../src/store/redis.js';
import { connectRedis, createRedisClient } from '../../src/store/redis-connection.js';
import { TEST_REDIS_URL } from '../support/env.js';
import { sessionStoreContract } from './session-store.contract.js';

describe('session store contract: memory', () => {
  let now = Date.now();
  sessionStoreContract(async () => new MemorySessionStore(() => now), {
    now: () => now,
    elapse: async (seconds) => {
      now += seconds * 1000;
    },
  });
});

describe('session store contract: redis', function () {
  this.timeout(20_000);
  // Every store in this run writes under runPrefix; each test's store has a prefix of its own.
  const runPrefix = `tfc${randomBytes(4).toString('hex')}:`;
  let stores = 0;
  let raw: Redis;

  before(async () => {
    raw = new Redis(TEST_REDIS_URL, { lazyConnect: true });
    await raw.connect();
  });

  async function keysUnderRun(): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await raw.scan(cursor, 'MATCH', `${runPrefix}*`, 'COUNT', 1000);
      found.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return found;
  }

  after(async () => {
    const left = await keysUnderRun();
    for (let i = 0; i < left.length; i += 500) await raw.del(...left.slice(i, i + 500));
    await raw.quit();
  });

  sessionStoreContract(
    async () => {
      const keyPrefix = `${runPrefix}${++stores}:`;
      const client = createRedisClient(TEST_REDIS_URL, { keyPrefix });
      await connectRedis(client, TEST_REDIS_URL);
      return new RedisSessionStore(client);
    },
    // Redis expires keys at millisecond precision; a little slack covers the round trips.
    { now: Date.now, elapse: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 150)) },
  );

  // Mocha runs sub-suites in the order they are declared, so this one runs after every contract
  // test above and sees every key they wrote (the after hook removes them).
  describe('after the contract', () => {
    it('[item 7] every key the store wrote has a TTL', async () => {
      const written = await keysUnderRun();
      expect(written.length, 'the contract left keys with long TTLs behind').to.be.greaterThan(20);
      const ttls = await Promise.all(written.map((k) => raw.ttl(k)));
      const forever = written.filter((_, i) => ttls[i] === -1);
      expect(forever, 'keys without a TTL').to.deep.equal([]);
    });
  });
});
