import { type CommandName, commandNames } from './usage.js';

export type ParsedArguments =
  | { action: 'help'; command?: CommandName }
  | { action: 'version' }
  | { action: 'run'; command: CommandName }
  | { action: 'usage-error'; message: string; command?: CommandName };

const isCommand = (value: string): value is CommandName =>
  (commandNames as readonly string[]).includes(value);

/** Reads `ipa [--help|--version] <command> [--help]`; commands take no other arguments. */
export function parseArguments(argv: readonly string[]): ParsedArguments {
  const [first, ...rest] = argv;
  if (first === undefined) return { action: 'usage-error', message: 'no command given' };
  if (first === '-h' || first === '--help' || first === 'help') {
    const topic = rest[0];
    if (topic === undefined) return { action: 'help' };
    if (isCommand(topic) && rest.length === 1) return { action: 'help', command: topic };
    return { action: 'usage-error', message: `unknown command '${topic}'` };
  }
  if (first === '-v' || first === '--version' || first === 'version') {
    if (rest.length > 0) return { action: 'usage-error', message: `unexpected argument '${rest[0]}'` };
    return { action: 'version' };
  }
  if (!isCommand(first)) {
    return {
      action: 'usage-error',
      message: first.startsWith('-') ? `unknown option '${first}'` : `unknown command '${first}'`,
    };
  }
  if (rest.some((a) => a === '-h' || a === '--help')) return { action: 'help', command: first };
  const extra = rest[0];
  if (extra !== undefined) {
    return {
      action: 'usage-error',
      command: first,
      message: `'${first}' takes no argument '${extra}' (settings come from the environment)`,
    };
  }
  return { action: 'run', command: first };
}
