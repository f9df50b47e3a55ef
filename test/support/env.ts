// Where the test suite finds its real services. test/support/run.mjs makes sure they run.
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const TEST_PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const ARTIFACTS_DIR = new URL('../../test-artifacts/', import.meta.url).pathname;
