import { ConfigError, loadConfig, processEnvironment } from '../config/index.js';
import { parseArguments } from './args.js';
import { type CliOutput, StartupError } from './output.js';
import { platformVersion } from './paths.js';
import { commandUsage, generalUsage } from './usage.js';

export { type CliOutput, StartupError } from './output.js';
export { platformVersion, resolveStaticDir } from './paths.js';

/** Exit codes: 0 done, 1 failed at run time, 2 wrong usage or invalid configuration. */
export const exitCodes = { ok: 0, failed: 1, usage: 2 } as const;

const processOutput: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Runs the `ipa` command line and resolves with the process exit code: at once for help,
 * version and usage errors, after the work for `migrate`, and after a graceful shutdown for the
 * long-running commands.
 */
export async function runCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = processEnvironment(),
  output: CliOutput = processOutput,
): Promise<number> {
  const parsed = parseArguments(argv);
  switch (parsed.action) {
    case 'help':
      output.out(parsed.command ? commandUsage(parsed.command) : generalUsage());
      return exitCodes.ok;
    case 'version':
      output.out(platformVersion());
      return exitCodes.ok;
    case 'usage-error':
      output.err(`ipa: ${parsed.message}`);
      output.err('');
      output.err(parsed.command ? commandUsage(parsed.command) : generalUsage());
      return exitCodes.usage;
  }

  const command = parsed.command;
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(command, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) output.err(`ipa ${command}: invalid configuration: ${problem}`);
      return exitCodes.usage;
    }
    throw error;
  }

  try {
    // Loaded only to run a command: help, version and usage errors stay instant.
    const { runApi, runMigrate, runStandalone, runWorker } = await import('./commands.js');
    switch (command) {
      case 'migrate':
        return await runMigrate(config, output);
      case 'api':
        return await runApi(config, output);
      case 'worker':
        return await runWorker(config, output);
      case 'standalone':
        return await runStandalone(config, output);
    }
  } catch (error) {
    if (error instanceof StartupError) {
      for (const line of error.lines) output.err(`ipa ${command}: ${line}`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    output.err(`ipa ${command}: failed: ${message}`);
    return exitCodes.failed;
  }
}
