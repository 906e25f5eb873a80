/** The egress repository's contract: user secrets, allowlists, the request log (re-exported by `types.ts`). */

/** A user secret as stored: its value only as ciphertext. */
export interface StoredSecret {
  id: string;
  userId: string;
  name: string;
  hosts: string[];
  delivery: SecretDelivery;
  keyId: string;
  ciphertext: string;
  createdAt: string;
  updatedAt: string;
}

export type SecretDelivery = { header: string; template: string } | { query: string };

export interface EgressRequestEntry {
  id: string;
  executionId: string | null;
  userId: string;
  host: string;
  port: number;
  method: string;
  status: number | null;
  bytesSent: number;
  bytesReceived: number;
  durationMs: number;
  outcome: 'allowed' | 'refused' | 'failed';
  reason: string | null;
  at: string;
}

export interface EgressRepository {
  /** Creates or replaces the user's secret `name`. */
  putSecret(input: Omit<StoredSecret, 'id' | 'createdAt' | 'updatedAt'>): Promise<StoredSecret>;
  getSecret(userId: string, name: string): Promise<StoredSecret | undefined>;
  listSecrets(userId: string): Promise<StoredSecret[]>;
  deleteSecret(userId: string, name: string): Promise<boolean>;
  /** Secrets encrypted under another key than `keyId` (rotation), at most `limit`. */
  secretsNotUnder(keyId: string, limit: number): Promise<StoredSecret[]>;
  /** Swaps the ciphertext of one secret if it is still the one read (`previous`). */
  reencryptSecret(id: string, previous: string, keyId: string, ciphertext: string): Promise<boolean>;
  /** The user level of the egress allowlist; null = the level does not narrow. */
  userAllowlist(userId: string): Promise<string[] | null>;
  setUserAllowlist(userId: string, rules: string[] | null): Promise<void>;
  automationAllowlist(automationId: string): Promise<{ ownerId: string; rules: string[] } | null>;
  setAutomationAllowlist(automationId: string, ownerId: string, rules: string[] | null): Promise<void>;
  recordRequest(entry: Omit<EgressRequestEntry, 'id' | 'at'>): Promise<void>;
  /** Requests of one execution, oldest first. */
  listRequests(executionId: string, limit?: number): Promise<EgressRequestEntry[]>;
}
