import { useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useId, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Button, InlineError, LoadingState, StatusBadge } from '../../../components/ui';
import {
  type ScriptLanguage,
  type TranscriptItem,
  terminalStatuses,
  useExecutionStream,
  useFormat,
  useIsDark,
} from '../../../lib';
import { meQueryKey, useMe } from '../../auth';
import { EgressLog } from '../../egress';
import { filesQueryKey } from '../../files';
import { availableLanguages, executionsQueryKey, useCancelRun, useRunScript } from '../api/automations';
import { AutomationList } from './AutomationList';
import type { CodeEditorHandle, CodeProblem } from './CodeEditor';
import { RunHistory } from './RunHistory';
import { SandboxUidsNote } from './SandboxUidsNote';
import { errorPosition, ScriptErrorLine } from './ScriptErrorLine';

const CodeEditor = lazy(() => import('./CodeEditor'));

const samples: Record<ScriptLanguage, string> = {
  javascript:
    "// `input` holds the JSON below; the value you return is the run's result.\nconst name = input?.name ?? 'world';\nconsole.log('hello,', name);\nreturn { greeted: name };\n",
  typescript:
    "// `input` holds the JSON below; the value you return is the run's result.\nconst name: string = input?.name ?? 'world';\nconsole.log('hello,', name);\nreturn { greeted: name };\n",
  shell: 'echo "hello from the sandbox"\n',
  python: 'print("hello from the sandbox")\n',
};

function parseInput(text: string): { ok: true; value: unknown } | { ok: false } {
  if (!text.trim()) return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function pretty(value: unknown): string {
  if (value === undefined) return '—';
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** A script run's result record: the script's own return value plus how the process ended. */
function scriptOutcome(result: unknown): { value: unknown; exitCode: number | null; truncated: boolean } {
  if (result && typeof result === 'object' && 'exitCode' in result) {
    const record = result as { result?: unknown; exitCode?: unknown; outputTruncated?: unknown };
    return {
      value: record.result,
      exitCode: typeof record.exitCode === 'number' ? record.exitCode : null,
      truncated: record.outputTruncated === true,
    };
  }
  return { value: result, exitCode: null, truncated: false };
}

function OutputLog({ items }: { items: TranscriptItem[] }) {
  const { t } = useTranslation();
  const chunks = items.filter((item) => item.kind === 'output' || item.kind === 'file');
  if (chunks.length === 0) return <p className="muted output-empty">{t('automations.noOutput')}</p>;
  return (
    <pre className="output-log" data-testid="run-output">
      {chunks.map((item, index) =>
        item.kind === 'output' ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: chunks only grow at the end
          <span key={index} className={item.stream === 'stderr' ? 'stderr' : 'stdout'}>
            {item.data}
          </span>
        ) : item.kind === 'file' ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: chunks only grow at the end
          <span key={index} className="file-note">
            {t('automations.fileChanged', {
              path: item.path,
              change: t(`automations.change.${item.change}`, { defaultValue: item.change }),
            })}
            {'\n'}
          </span>
        ) : null,
      )}
    </pre>
  );
}

function RunPanel({
  executionId,
  onProblem,
  onGoTo,
}: {
  executionId: string;
  /** Told where the run's script error is (or that it has none), for the editor to mark. */
  onProblem: (problem: CodeProblem | null) => void;
  onGoTo: (line: number, column: number) => void;
}) {
  const { t } = useTranslation();
  const format = useFormat();
  const cancel = useCancelRun();
  const queryClient = useQueryClient();
  // A finished run changes its status in the history, and maybe the user's files and quota.
  const { view, connection, error } = useExecutionStream(executionId, () => {
    void queryClient.invalidateQueries({ queryKey: executionsQueryKey });
    void queryClient.invalidateQueries({ queryKey: filesQueryKey });
    void queryClient.invalidateQueries({ queryKey: meQueryKey });
  });
  const running = !terminalStatuses.includes(view.status as never);
  const outcome = scriptOutcome(view.result);
  const position = errorPosition(view.error);
  const message = view.error?.message ?? '';
  // biome-ignore lint/correctness/useExhaustiveDependencies: the place and text are what matter, not the object
  useEffect(() => {
    onProblem(position ? { ...position, message } : null);
  }, [position?.line, position?.column, message, onProblem]);
  return (
    <section className="card run-panel" aria-labelledby="run-heading">
      <div className="panel-head">
        <h2 id="run-heading" className="panel-title">
          {t('automations.output')}
        </h2>
        <div className="row">
          {view.status === 'connecting' ? null : <StatusBadge status={view.status} />}
          {running ? (
            <Button
              size="sm"
              variant="danger"
              onClick={() => cancel.mutate(executionId)}
              busy={cancel.isPending}
            >
              {t('chat.stop')}
            </Button>
          ) : null}
        </div>
      </div>
      <div aria-live="polite" aria-busy={running}>
        <OutputLog items={view.items} />
      </div>
      {connection === 'reconnecting' ? <p className="muted">{t('chat.reconnecting')}</p> : null}
      {error ? (
        <p className="inline-error" role="alert">
          {error.message}
        </p>
      ) : null}
      <dl className="facts">
        <div>
          <dt>{t('automations.duration')}</dt>
          <dd>{format.duration(view.durationMs)}</dd>
        </div>
        <div>
          <dt>{t('automations.exitCode')}</dt>
          <dd>{outcome.exitCode === null ? '—' : format.number(outcome.exitCode)}</dd>
        </div>
        <div>
          <dt>{t('automations.attempt')}</dt>
          <dd>{view.attempt ? format.number(view.attempt) : '—'}</dd>
        </div>
      </dl>
      {view.error ? <ScriptErrorLine error={view.error} onGoTo={onGoTo} /> : null}
      {view.status === 'succeeded' ? (
        <>
          <h3 className="sub-title">{t('automations.result')}</h3>
          <pre className="code-block" data-testid="run-result">
            {pretty(outcome.value)}
          </pre>
          {outcome.truncated ? <p className="muted">{t('automations.truncated')}</p> : null}
        </>
      ) : null}
    </section>
  );
}

export function AutomationsPage() {
  const { t } = useTranslation();
  const me = useMe();
  const dark = useIsDark();
  const languages = availableLanguages(me.data?.platform as never);
  const [language, setLanguage] = useState<ScriptLanguage>('javascript');
  const [code, setCode] = useState(samples.javascript);
  const [inputText, setInputText] = useState('{\n  "name": "world"\n}');
  const [executionId, setExecutionId] = useState<string | null>(null);
  const [problem, setProblem] = useState<CodeProblem | null>(null);
  const editor = useRef<CodeEditorHandle>(null);
  const run = useRunScript();
  const languageId = useId();
  const inputId = useId();
  const inputErrorId = useId();
  const parsed = parseInput(inputText);

  const start = () => {
    if (!parsed.ok || !code.trim() || run.isPending) return;
    run.mutate(
      { language, code, ...(parsed.value === undefined ? {} : { input: parsed.value }) },
      { onSuccess: (execution) => setExecutionId(execution.id) },
    );
  };

  return (
    <div className="page">
      <div className="page-head">
        <h1 className="page-title">{t('automations.title')}</h1>
        <p className="muted">{t('automations.isolation', { level: me.data?.platform.isolation ?? '—' })}</p>
        <SandboxUidsNote
          isolation={me.data?.platform.isolation}
          sandboxUids={me.data?.platform.sandboxUids}
        />
      </div>
      <AutomationList />
      <h2 className="panel-title">{t('automations.saved.quickRun')}</h2>
      <div className="automation-grid">
        <section className="card editor-card" aria-label={t('automations.editor')}>
          <div className="editor-toolbar">
            <label htmlFor={languageId} className="field-label inline">
              {t('automations.language')}
            </label>
            <select
              id={languageId}
              className="select select-sm"
              value={language}
              onChange={(event) => {
                const next = event.target.value as ScriptLanguage;
                // Keep the user's code; only swap an untouched sample for the new language's.
                if (code === samples[language]) setCode(samples[next]);
                setLanguage(next);
              }}
            >
              {languages.map((option) => (
                <option key={option} value={option}>
                  {t(`automations.languages.${option}`)}
                </option>
              ))}
            </select>
            <span className="spacer" />
            <Button
              variant="primary"
              onClick={start}
              busy={run.isPending}
              disabled={!parsed.ok || !code.trim()}
            >
              {t('automations.run')}
            </Button>
          </div>
          <Suspense fallback={<LoadingState label={t('automations.loadingEditor')} />}>
            <CodeEditor
              value={code}
              onChange={setCode}
              language={language}
              label={t('automations.codeLabel')}
              dark={dark}
              onSubmit={start}
              problem={problem}
              handle={editor}
            />
          </Suspense>
          <p className="field-hint">{t('automations.cwdHint')}</p>
          <label htmlFor={inputId} className="field-label">
            {t('automations.input')}
          </label>
          <textarea
            id={inputId}
            className="input mono input-json"
            rows={4}
            spellCheck={false}
            value={inputText}
            onChange={(event) => setInputText(event.target.value)}
            aria-invalid={!parsed.ok || undefined}
            aria-describedby={parsed.ok ? undefined : inputErrorId}
          />
          {parsed.ok ? null : (
            <p id={inputErrorId} className="inline-error" role="alert">
              {t('automations.inputInvalid')}
            </p>
          )}
          <InlineError error={run.error} />
        </section>
        {executionId ? (
          <RunPanel
            key={executionId}
            executionId={executionId}
            onProblem={setProblem}
            onGoTo={(line, column) => editor.current?.goTo(line, column)}
          />
        ) : (
          <section className="card run-panel">
            <h2 className="panel-title">{t('automations.output')}</h2>
            <p className="muted">{t('automations.notRun')}</p>
          </section>
        )}
      </div>
      {executionId ? <EgressLog key={executionId} executionId={executionId} /> : null}
      <RunHistory selectedId={executionId} onSelect={setExecutionId} />
    </div>
  );
}
