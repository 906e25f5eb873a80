import { useTranslation } from 'react-i18next';
import type { Execution } from '../../../lib';

/** Where a script error points in the user's code, when the error carries it. */
export function errorPosition(error: Execution['error']): { line: number; column: number } | null {
  const where = error as { line?: unknown; column?: unknown } | null;
  return where && typeof where.line === 'number' && typeof where.column === 'number'
    ? { line: where.line, column: where.column }
    : null;
}

/**
 * A failed run's error: its code and message, then a button that moves the editor's cursor to the
 * error when `onGoTo` is given (the code in the editor is the code that ran), else its position.
 */
export function ScriptErrorLine({
  error,
  onGoTo,
}: {
  error: NonNullable<Execution['error']>;
  onGoTo?: (line: number, column: number) => void;
}) {
  const { t } = useTranslation();
  const position = errorPosition(error);
  return (
    <p className="inline-error" role="alert">
      <span className="mono">{error.code}</span> {error.message}
      {position && onGoTo ? (
        <>
          {' '}
          <button type="button" className="link-btn" onClick={() => onGoTo(position.line, position.column)}>
            {t('automations.goToError', position)}
          </button>
        </>
      ) : position ? (
        ` (${t('automations.saved.lineColumn', position)})`
      ) : null}
    </p>
  );
}
