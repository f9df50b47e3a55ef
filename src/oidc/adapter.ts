// oidc-provider's persistence: clients come from the durable store (so an admin change applies to
// the next request without a restart); everything else is short-lived and lives in the session
// store.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { SessionStore } from '../store/session-store.js';
import type { ClientService } from '../clients/service.js';

class SessionStoreAdapter implements Adapter {
  constructor(private readonly model: string, private readonly store: SessionStore) {}

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    await this.store.oidcUpsert(this.model, id, payload as Record<string, unknown>, Math.max(1, Math.ceil(expiresIn)));
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    return (await this.store.oidcFind(this.model, id)) as AdapterPayload | undefined;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return (await this.store.oidcFindByUserCode(userCode)) as AdapterPayload | undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return (await this.store.oidcFindByUid(uid)) as AdapterPayload | undefined;
  }

  async consume(id: string): Promise<void> {
    await this.store.oidcConsume(this.model, id);
  }

  async destroy(id: string): Promise<void> {
    await this.store.oidcDestroy(this.model, id);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.store.oidcRevokeByGrantId(grantId);
  }
}

class ClientAdapter implements Adapter {
  constructor(private readonly clients: ClientService) {}

  async find(id: string): Promise<AdapterPayload | undefined> {
    return (await this.clients.providerMetadata(id)) as AdapterPayload | undefined;
  }

  // Clients are managed through the CLI and the admin API, never by oidc-provider itself.
  async upsert(): Promise<void> {
    throw new Error('clients are managed through the Twofold CLI or admin API');
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async consume(): Promise<void> {}
  async destroy(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}

export function adapterFactory(store: SessionStore, clients: ClientService) {
  return (model: string): Adapter => (model === 'Client' ? new ClientAdapter(clients) : new SessionStoreAdapter(model, store));
}
