/**
 * The worker's egress: the proxy built from the settings, the policy levels and secrets read from
 * the store per request, and every request recorded (request log, metric, audit for refusals).
 */
import type { Config } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Store } from '../store/types.js';
import { type AllowRule, type PolicyLevels, parseAllowList, parseAllowRule, parseCidrs } from './policy.js';
import { type EgressContext, EgressProxy, type EgressProxyOptions, type EgressRecord } from './proxy.js';
import { SecretBox } from './secret-box.js';
import { Secrets } from './secrets.js';

export interface Egress {
  proxy: EgressProxy;
  secrets: Secrets;
  /** The context one execution runs under (policy read per request). */
  contextFor(execution: { id: string; userId: string; automationId?: string | null }): EgressContext;
  shutdown(): Promise<void>;
}

export function secretsFrom(config: Config, store: Store): Secrets {
  return new Secrets(
    () => store.egress,
    config.egress.secretsKey ? new SecretBox(config.egress.secretsKey) : undefined,
  );
}

/** The levels of one user (and automation): installation ∩ user ∩ automation. */
export async function policyLevels(
  store: Store,
  installation: readonly AllowRule[],
  userId: string,
  automationId?: string | null,
): Promise<PolicyLevels> {
  const user = await store.egress.userAllowlist(userId);
  const automation = automationId ? await store.egress.automationAllowlist(automationId) : null;
  return {
    installation,
    ...(user ? { user: user.map(parseAllowRule) } : {}),
    // An automation's list counts only when its recorded owner runs it.
    ...(automationId
      ? {
          automation: automation && automation.ownerId === userId ? automation.rules.map(parseAllowRule) : [],
        }
      : {}),
  };
}

export function createEgress(
  options: { config: Config; store: Store; metrics?: Metrics; logger?: Logger },
  overrides: Partial<EgressProxyOptions> = {},
): Egress {
  const { config, store, metrics, logger } = options;
  const installation = parseAllowList(config.egress.allow);
  const secrets = secretsFrom(config, store);
  const record = (entry: EgressRecord) => {
    metrics?.egressRequests.inc({ outcome: entry.outcome });
    void store.egress
      .recordRequest(entry)
      .catch((error: Error) => logger?.warn({ err: error.message }, 'egress request not recorded'));
    if (entry.outcome === 'refused') {
      void store.audit
        .record({
          actorId: entry.userId,
          action: 'egress.refused',
          target: entry.executionId ? `execution:${entry.executionId}` : null,
          details: { host: entry.host, port: entry.port, method: entry.method, reason: entry.reason },
        })
        .catch((error: Error) => logger?.warn({ err: error.message }, 'egress refusal not audited'));
    }
  };
  const proxy = new EgressProxy({
    allowCidrs: parseCidrs(config.egress.allowCidrs.join(',')),
    denyCidrs: parseCidrs(config.egress.denyCidrs.join(',')),
    maxConnections: config.egress.maxConnections,
    maxBytesPerExecution: config.egress.maxBytesPerExecution,
    requestTimeoutMs: config.egress.requestTimeoutMs,
    onRecord: record,
    ...overrides,
  });
  return {
    proxy,
    secrets,
    contextFor(execution) {
      return {
        userId: execution.userId,
        executionId: execution.id,
        automationId: execution.automationId ?? null,
        levels: () => policyLevels(store, installation, execution.userId, execution.automationId),
        secret: (name) => secrets.resolve(execution.userId, name),
      };
    },
    shutdown: () => proxy.shutdown(),
  };
}
