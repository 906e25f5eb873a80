/** The commands of the `ipa` binary and their help texts. */
export const commandNames = ['api', 'worker', 'standalone', 'migrate'] as const;
export type CommandName = (typeof commandNames)[number];

interface CommandHelp {
  summary: string;
  description: string;
  /** The settings that matter most for this command (all are in the README's table). */
  settings: string[];
}

export const commandHelp: Record<CommandName, CommandHelp> = {
  api: {
    summary: 'Serve the HTTP API (port 8000).',
    description:
      'Serves the HTTP API under /api/v1, health at /health/{live,ready} and metrics at /metrics.\n' +
      'Needs DATABASE_URL and REDIS_URL. It does not migrate: it refuses to start until\n' +
      "'ipa migrate' has brought the schema up to date. SIGTERM/SIGINT drain it gracefully.",
    settings: [
      'PORT (8000)',
      'HOST',
      'DATABASE_URL',
      'REDIS_URL',
      'IPA_ADMIN_TOKEN',
      'STATIC_DIR',
      'SHUTDOWN_GRACE_SECONDS',
      'CORS_ORIGINS',
      'TRUST_PROXY',
    ],
  },
  worker: {
    summary: 'Run executions from the queue (health and metrics on port 8001).',
    description:
      'Takes executions from the queue and runs them in per-user sandboxes, publishing heartbeats\n' +
      'with its isolation level and pool figures. Needs DATABASE_URL and REDIS_URL and a current\n' +
      'schema. On SIGTERM it stops taking jobs at once, lets running executions finish within\n' +
      'WORKER_GRACE_SECONDS and hands the rest back to the queue.',
    settings: [
      'PORT (8001)',
      'DATABASE_URL',
      'REDIS_URL',
      'WORKER_CONCURRENCY',
      'WORKER_GRACE_SECONDS',
      'EXECUTION_TIMEOUT_SECONDS',
      'SANDBOX_ROOT',
      'SANDBOX_ISOLATION',
      'SANDBOX_REQUIRE_ISOLATION',
      'MODEL_PROVIDER',
    ],
  },
  standalone: {
    summary: 'API, worker and web app in one process with an embedded database (npm start).',
    description:
      'Runs the API, an in-process worker and the built web app in one process, with the embedded\n' +
      'database and sandboxes under DATA_DIR and an in-process queue. Applies migrations at start,\n' +
      'prints the URL and, on first start, a generated admin token (unless IPA_ADMIN_TOKEN is set).',
    settings: ['PORT (8000)', 'HOST (127.0.0.1)', 'DATA_DIR (./data)', 'IPA_ADMIN_TOKEN', 'STATIC_DIR'],
  },
  migrate: {
    summary: 'Apply the database migrations and exit.',
    description:
      'Applies pending migrations to DATABASE_URL (safe when several run at once) and exits 0 when\n' +
      'the schema is current.',
    settings: ['DATABASE_URL'],
  },
};

export function generalUsage(): string {
  const width = Math.max(...commandNames.map((n) => n.length)) + 3;
  return [
    'Usage: ipa <command> [options]',
    '',
    'Commands:',
    ...commandNames.map((name) => `  ${name.padEnd(width)}${commandHelp[name].summary}`),
    '',
    'Options:',
    '  -h, --help      Show this help, or a command’s help (ipa <command> --help)',
    '  -v, --version   Print the version',
    '',
    'Every setting comes from the environment; see the configuration table in README.md.',
  ].join('\n');
}

export function commandUsage(name: CommandName): string {
  const help = commandHelp[name];
  return [
    `Usage: ipa ${name} [--help]`,
    '',
    help.summary,
    '',
    help.description,
    '',
    `Main settings: ${help.settings.join(', ')}.`,
    'Every setting comes from the environment; see the configuration table in README.md.',
  ].join('\n');
}
