// Relying parties in the durable store. The metadata is oidc-provider's client metadata; the
// secret is kept apart, sealed with the data key.
import type { Kysely } from 'kysely';
import type { ClientRow, Database } from '../schema.js';
import { guard } from '../errors.js';
import { Precompiled } from '../precompiled.js';
import { readCache, type ReadCache } from '../read-cache.js';

export interface StoredClient {
  clientId: string;
  metadata: Record<string, unknown>;
  secretSealed: string | null;
  createdAt: number;
  updatedAt: number;
}

const toClient = (r: ClientRow): StoredClient => ({
  clientId: r.client_id,
  metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  secretSealed: r.secret_sealed,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class ClientRepo {
  private readonly byId: Precompiled<ClientRow>;

  /** Rows by client id: every OIDC request looks its client up (src/db/read-cache.ts). */
  private readonly cache: ReadCache<ClientRow>;

  constructor(private readonly db: Kysely<Database>) {
    this.cache = readCache(db, 'clients');
    this.byId = new Precompiled(db, (d) => d.selectFrom('clients').selectAll().where('client_id', '=', '?'));
  }

  async create(clientId: string, metadata: Record<string, unknown>, secretSealed: string | null): Promise<StoredClient> {
    const now = Date.now();
    const row: ClientRow = { client_id: clientId, metadata: JSON.stringify(metadata), secret_sealed: secretSealed, created_at: now, updated_at: now };
    await guard(() => this.db.insertInto('clients').values(row).execute(), `a client with id "${clientId}" already exists`);
    return toClient(row);
  }

  async find(clientId: string): Promise<StoredClient | undefined> {
    const row = await this.cache.get(clientId, () => guard(() => this.byId.first(clientId)));
    return row && toClient(row);
  }

  async list(): Promise<StoredClient[]> {
    const rows = await guard(() => this.db.selectFrom('clients').selectAll().orderBy('client_id').execute());
    return rows.map(toClient);
  }

  async update(clientId: string, metadata: Record<string, unknown>, secretSealed: string | null): Promise<StoredClient | undefined> {
    await guard(() =>
      this.db
        .updateTable('clients')
        .set({ metadata: JSON.stringify(metadata), secret_sealed: secretSealed, updated_at: Date.now() })
        .where('client_id', '=', clientId)
        .execute(),
    );
    this.cache.forget(clientId);
    return this.find(clientId);
  }

  async remove(clientId: string): Promise<boolean> {
    const result = await guard(() => this.db.deleteFrom('clients').where('client_id', '=', clientId).executeTakeFirst());
    this.cache.forget(clientId);
    return Number(result.numDeletedRows) > 0;
  }
}
