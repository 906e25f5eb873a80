import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { ApiError } from './api-client';

/** An error as the server sends it: a stable code, an English sentence, maybe parameters. */
export interface ServerError {
  code: string;
  message: string;
  details?: unknown;
}

// Codes whose English message is the user's own content (a script's exception), shown after the
// translated summary rather than replaced by it.
const carriesUserText = new Set(['script_error']);

/**
 * The text a person reads for a server error, in their language: the catalogue's sentence for
 * the code (with the error's details as parameters) when there is one, else the server's.
 */
export function serverErrorText(t: TFunction, error: ServerError): string {
  const params = error.details && typeof error.details === 'object' ? (error.details as object) : {};
  const key = `serverErrors.${error.code}`;
  const translated = t(key, { ...params, defaultValue: '' });
  if (!translated) return error.message;
  return carriesUserText.has(error.code) && error.message ? `${translated} ${error.message}` : translated;
}

/** The same for anything thrown: an ApiError by its code, another Error by its message. */
export function errorText(t: TFunction, error: unknown): string {
  if (error instanceof ApiError) return serverErrorText(t, error);
  if (error instanceof Error && error.message) return error.message;
  return t('common.unknownError');
}

export function useServerText() {
  const { t } = useTranslation();
  return {
    error: (error: ServerError) => serverErrorText(t, error),
    thrown: (error: unknown) => errorText(t, error),
  };
}
