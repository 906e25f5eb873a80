/**
 * What a script language needs that may be missing, for the message that refuses it. A module of
 * its own with no imports, so the API (which does not load the sandbox) can say the same as the
 * worker.
 */
export function languageRequirement(language: string): string {
  if (language === 'python') return 'Python needs bwrap isolation and python3 on the worker';
  if (language === 'shell') return 'shell needs bwrap isolation';
  return `${language} is not a script language of the platform`;
}
