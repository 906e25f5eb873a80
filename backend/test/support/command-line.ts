import { type ParseArgsConfig, parseArgs } from 'node:util';

/**
 * The options of a test tool's command line, with `--help`/`-h`: prints `usage` and exits 0 for
 * `--help`, prints the problem and `usage` and exits 2 for an unknown or malformed option.
 */
export function commandLineOptions<T extends NonNullable<ParseArgsConfig['options']>>(
  options: T,
  usage: string,
) {
  const withHelp = { ...options, help: { type: 'boolean', short: 'h' } } as T;
  let parsed: ReturnType<typeof parseArgs<{ options: T }>>;
  try {
    parsed = parseArgs({ options: withHelp });
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
  if ((parsed.values as { help?: boolean }).help) {
    console.log(usage);
    process.exit(0);
  }
  return parsed.values;
}
