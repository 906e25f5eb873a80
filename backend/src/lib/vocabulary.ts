/**
 * Names every layer shares, defined once. The sandbox runtime (`sandbox/runtime/`) cannot import
 * them (only its own directory is mounted into the sandbox), so it keeps a copy of
 * `userFolders` that a test holds equal to this one.
 */

/** How strongly sandboxes are isolated (docs/security.md, Isolation levels). */
export type IsolationLevel = 'bwrap' | 'process';

export const scriptLanguages = ['javascript', 'typescript', 'shell', 'python'] as const;
export type ScriptLanguage = (typeof scriptLanguages)[number];
/** What every sandbox runs; shell and Python need bwrap isolation. */
export const baseLanguages: readonly ScriptLanguage[] = ['javascript', 'typescript'];

/** What a script language needs that may be missing, for the message that refuses it. */
export function languageRequirement(language: string): string {
  if (language === 'python') return 'Python needs bwrap isolation and python3 on the worker';
  if (language === 'shell') return 'shell needs bwrap isolation';
  return `${language} is not a script language of the platform`;
}

/** The top-level folders of a user's files, in the order they are created. */
export const userFolders = ['uploads', 'workspace', 'outputs'] as const;

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID in its canonical text form (any case). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && uuidPattern.test(value);
}
