import { useTranslation } from 'react-i18next';

function pretty(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

export interface ToolCardProps {
  toolName: string;
  input: unknown;
  output?: unknown;
  isError?: boolean;
  done: boolean;
}

/** One tool call and its result, collapsed to a summary line until opened. */
export function ToolCard({ toolName, input, output, isError, done }: ToolCardProps) {
  const { t } = useTranslation();
  const state = !done ? 'running' : isError ? 'error' : 'ok';
  return (
    <details className={`tool-card tool-${state}`}>
      <summary>
        <span className="tool-icon" aria-hidden="true">
          {state === 'running' ? '…' : state === 'error' ? '!' : '✓'}
        </span>
        <span className="tool-name mono">{toolName}</span>
        <span className="tool-state muted">{t(`chat.tool.${state}`)}</span>
      </summary>
      <div className="tool-body">
        <h4 className="tool-label">{t('chat.tool.input')}</h4>
        <pre className="code-block">{pretty(input) || '—'}</pre>
        {done ? (
          <>
            <h4 className="tool-label">{isError ? t('chat.tool.errorOutput') : t('chat.tool.output')}</h4>
            <pre className={isError ? 'code-block code-error' : 'code-block'}>{pretty(output) || '—'}</pre>
          </>
        ) : null}
      </div>
    </details>
  );
}
