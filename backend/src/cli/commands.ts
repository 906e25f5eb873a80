import { mkdir } from 'node:fs/promises';
import { ensureAdmin, startApiServer } from '../api/index.js';
import type { Config } from '../config/index.js';
import { createEgress, type Egress } from '../egress/service.js';
import { chooseProvider, createExecutors } from '../engine/index.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createServices } from '../platform.js';
import { createSandboxOrchestrator, type ManagedSandboxOrchestrator } from '../sandbox/index.js';
import type { SandboxOrchestrator } from '../sandbox/types.js';
import type { Services } from '../services.js';
import { type Database, migrate, openDatabase, schemaStatus } from '../store/index.js';
import {
  requeueUnfinished,
  startWorkerRuntime,
  startWorkerServer,
  type WorkerRuntime,
} from '../worker/index.js';
import {
  adminTokenMarkerPath,
  newAdminToken,
  readAdminTokenMarker,
  tokenPrefix,
  writeAdminTokenMarker,
} from './admin-token.js';
import { type CliOutput, StartupError } from './output.js';
import { platformVersion, resolveStaticDir } from './paths.js';
import { listenForShutdown } from './signals.js';

async function requireCurrentSchema(db: Database): Promise<void> {
  const status = await schemaStatus(db);
  if (!status.current) {
    throw new StartupError([
      `the database schema is not current (pending migrations: ${status.pending.join(', ')}); run 'ipa migrate' first`,
    ]);
  }
}

function staticDirOf(config: Config): string | undefined {
  const resolved = resolveStaticDir(config.http.staticDir);
  if (resolved.problem) throw new StartupError([`invalid configuration: ${resolved.problem}`], 2);
  return resolved.dir;
}

function workerEgress(config: Config, services: Services, logger: Logger): Egress {
  try {
    return createEgress({ config, store: services.store, metrics: services.metrics, logger });
  } catch (error) {
    throw new StartupError([`invalid egress configuration: ${(error as Error).message}`], 2);
  }
}

async function createOrchestrator(
  config: Config,
  logger: Logger,
  egress: Egress,
): Promise<ManagedSandboxOrchestrator> {
  try {
    const orchestrator = await createSandboxOrchestrator({ ...config.sandbox, logger, egress: egress.proxy });
    const rotated = await egress.secrets.rotate();
    if (rotated > 0) logger.info({ rotated }, 'user secrets re-encrypted under the current key');
    // The proxy outlives the sandboxes it serves and stops with them.
    const shutdown = orchestrator.shutdown.bind(orchestrator);
    orchestrator.shutdown = async () => {
      await shutdown();
      await egress.shutdown();
    };
    return orchestrator;
  } catch (error) {
    throw new StartupError([
      `the sandbox cannot start: ${error instanceof Error ? error.message : String(error)}`,
    ]);
  }
}

/** Builds the services and runs `work`; closes the services when `work` throws. */
async function withServices<T>(
  config: Config,
  logger: Logger,
  work: (services: Services) => Promise<T>,
): Promise<T> {
  const services = await createServices(config, { logger });
  try {
    return await work(services);
  } catch (error) {
    await services.close().catch(() => {});
    throw error;
  }
}

export async function runMigrate(config: Config, output: CliOutput): Promise<number> {
  const db = await openDatabase(config.database);
  try {
    const { applied } = await migrate(db);
    const status = await schemaStatus(db);
    output.out(
      applied.length > 0
        ? `applied ${applied.length} migration(s): ${applied.join(', ')}`
        : 'the schema is already current',
    );
    if (!status.current) {
      output.err(`ipa migrate: migrations still pending: ${status.pending.join(', ')}`);
      return 1;
    }
    return 0;
  } finally {
    await db.close();
  }
}

export async function runApi(config: Config, output: CliOutput): Promise<number> {
  const logger = createLogger(config.logLevel, 'ipa.api');
  const staticDir = staticDirOf(config);
  const { services, api } = await withServices(config, logger, async (services) => {
    await requireCurrentSchema(services.store.db);
    if (config.adminToken) await ensureAdmin(services, config.adminToken);
    const api = await startApiServer(services, { staticDir, version: platformVersion() });
    return { services, api };
  });
  const signals = listenForShutdown(logger);
  output.out(`IPA Platform ${platformVersion()} API listening on ${api.url}`);
  await signals.received;
  try {
    await api.drain();
  } finally {
    await services.close();
    signals.dispose();
  }
  return 0;
}

export async function runWorker(config: Config, output: CliOutput): Promise<number> {
  const logger = createLogger(config.logLevel, 'ipa.worker');
  const { services, orchestrator, runtime, server } = await withServices(config, logger, async (services) => {
    await requireCurrentSchema(services.store.db);
    const egress = workerEgress(config, services, logger);
    const orchestrator = await createOrchestrator(config, logger, egress);
    try {
      const executors = createExecutors({ services, orchestrator, egress });
      const runtime = startWorkerRuntime({ services, executors, orchestrator });
      const server = await startWorkerServer({ services, runtime, orchestrator, version: platformVersion() });
      return { services, orchestrator, runtime, server };
    } catch (error) {
      await orchestrator.shutdown().catch(() => {});
      throw error;
    }
  });
  const signals = listenForShutdown(logger);
  output.out(
    `IPA Platform ${platformVersion()} worker ${runtime.workerId} (isolation ${orchestrator.isolation}: ` +
      `${orchestrator.isolationReason}) health and metrics on ${server.url}`,
  );
  await signals.received;
  try {
    // The server stays up while draining: readiness answers 503 and metrics stay scrapeable.
    await runtime.stop(config.worker.graceMs);
    await server.close();
    await orchestrator.shutdown();
  } finally {
    await services.close();
    signals.dispose();
  }
  return 0;
}

/**
 * Standalone's admin token: from IPA_ADMIN_TOKEN when set; otherwise generated on first start,
 * stored hashed and printed once. Later starts point at the marker instead of the token.
 */
async function provideAdminToken(services: Services, config: Config, output: CliOutput): Promise<void> {
  if (config.adminToken) {
    await ensureAdmin(services, config.adminToken);
    output.out('Admin token: the one in IPA_ADMIN_TOKEN.');
    return;
  }
  const marker = await readAdminTokenMarker(config.dataDir);
  if (marker && (await adminTokenStillValid(services, marker.prefix))) {
    output.out(
      `Admin token: issued ${marker.issuedAt} (${marker.prefix}) and printed on that first start; only its hash is kept.`,
    );
    output.out(
      `  To get a new one: stop, delete ${adminTokenMarkerPath(config.dataDir)}, start again (or set IPA_ADMIN_TOKEN).`,
    );
    return;
  }
  const token = newAdminToken();
  await ensureAdmin(services, token);
  await writeAdminTokenMarker(config.dataDir, {
    issuedAt: new Date().toISOString(),
    prefix: tokenPrefix(token),
  });
  output.out(`Admin token (shown only this once, keep it safe): ${token}`);
}

/** Whether an admin still holds an unrevoked token with that prefix (the database may have been reset). */
async function adminTokenStillValid(services: Services, prefix: string): Promise<boolean> {
  const start = prefix.replace(/…$/, '');
  let cursor: string | undefined;
  do {
    const page = await services.store.users.list({ limit: 100, cursor });
    for (const user of page.items) {
      if (!user.isAdmin) continue;
      const tokens = await services.store.tokens.list(user.id);
      if (tokens.some((t) => t.revokedAt === null && t.prefix.startsWith(start))) return true;
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return false;
}

/** What a newcomer needs to know before the first chat or script: missing model, weak isolation. */
export function startupNotices(
  config: Config,
  sandbox: { isolation: SandboxOrchestrator['isolation']; isolationReason?: string },
): string[] {
  const notices: string[] = [];
  const provider = chooseProvider(config.model);
  if ('error' in provider) {
    notices.push(`  model: none configured, so chat cannot answer yet: ${provider.error}`);
  }
  if (sandbox.isolation === 'process') {
    notices.push(
      `  scripts: isolation level 'process' (${sandbox.isolationReason ?? 'bubblewrap is unavailable'}): scripts run as`,
      '    plain processes with limits but without a private filesystem or network namespace, so run only',
      '    trusted code. For full isolation install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap)',
      '    and start again.',
    );
  }
  return notices;
}

export async function runStandalone(config: Config, output: CliOutput): Promise<number> {
  const logger = createLogger(config.logLevel, 'ipa');
  const staticDir = staticDirOf(config);
  // Traversable (not listable) by others: sandboxes may run under a dropped uid below it.
  await mkdir(config.dataDir, { recursive: true, mode: 0o711 });
  let runtime: WorkerRuntime | undefined;
  let orchestrator: ManagedSandboxOrchestrator | undefined;
  const started = await withServices(config, logger, async (services) => {
    await migrate(services.store.db);
    const egress = workerEgress(config, services, logger);
    orchestrator = await createOrchestrator(config, logger, egress);
    const executors = createExecutors({ services, orchestrator, egress });
    const worker = startWorkerRuntime({ services, executors, orchestrator });
    runtime = worker;
    const sandbox = orchestrator;
    try {
      const api = await startApiServer(services, {
        staticDir,
        version: platformVersion(),
        extraHealth: () => {
          const figures = worker.figures();
          return { isolation: figures.isolation, pool: figures.pool, running: figures.running };
        },
      });
      const requeued = await requeueUnfinished(services);
      if (requeued > 0) logger.info({ requeued }, 'unfinished executions from the last run queued again');
      output.out(`IPA Platform ${platformVersion()} (standalone) listening on ${api.url}`);
      output.out(
        `  data: ${config.dataDir}; sandboxes: ${config.sandbox.root} (isolation ${sandbox.isolation})`,
      );
      output.out(staticDir ? `  web app: ${staticDir}` : '  web app: not built (npm run build), API only');
      for (const line of startupNotices(config, sandbox)) output.out(line);
      await provideAdminToken(services, config, output);
      output.out('Ready. Ctrl+C (SIGINT) or SIGTERM stops gracefully; a second one forces the exit.');
      return { services, api };
    } catch (error) {
      await worker.stop(0).catch(() => {});
      await sandbox.shutdown().catch(() => {});
      throw error;
    }
  });
  const { services, api } = started;
  const signals = listenForShutdown(logger);
  await signals.received;
  try {
    await Promise.all([api.drain(), runtime?.stop(config.worker.graceMs)]);
    await orchestrator?.shutdown();
  } finally {
    await services.close();
    signals.dispose();
  }
  return 0;
}
