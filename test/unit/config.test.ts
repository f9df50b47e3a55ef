// Configuration defaults that depend on each other, through the same parsing the server uses.
import { expect } from 'chai';
import { fromEnv, parseConfig } from '../../src/config/load.js';

describe('configuration', () => {
  it('the SQLite file lives in TWOFOLD_DATA_DIR unless DATABASE_URL says otherwise', () => {
    expect(parseConfig({}).databaseUrl).to.equal('sqlite:./data/twofold.db');
    expect(parseConfig(fromEnv({ TWOFOLD_DATA_DIR: '/var/lib/twofold/' })).databaseUrl).to.equal('sqlite:/var/lib/twofold/twofold.db');
    const both = parseConfig(fromEnv({ TWOFOLD_DATA_DIR: '/var/lib/twofold', DATABASE_URL: 'postgres://db/twofold' }));
    expect(both.databaseUrl).to.equal('postgres://db/twofold');
    expect(both.dataDir).to.equal('/var/lib/twofold');
  });
});
