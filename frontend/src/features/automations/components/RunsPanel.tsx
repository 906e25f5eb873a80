import { useEffect, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useSearchParams } from 'react-router';
import { Button, InlineError, LoadMore, QueryStates, StatusBadge } from '../../../components/ui';
import { type Execution, useFormat } from '../../../lib';
import { type Automation, useAutomationRuns, useStartRun } from '../api/saved';
import type { CodeProblem } from './CodeEditor';
import { formFields, SchemaForm } from './SchemaForm';
import { errorPosition, ScriptErrorLine } from './ScriptErrorLine';

/** Where a script's syntax error is, when the sandbox reports it (`line`, `column`). */
function inputOf(run: Execution): unknown {
  return 'code' in run.input ? run.input.input : undefined;
}

/** Run now (input from the schema's form, or JSON), the run history with re-run and permalinks. */
export function RunsPanel({
  automation,
  onProblem,
  onGoTo,
}: {
  automation: Automation;
  /** Told the selected run's script error when it ran the saved version (the editor's code). */
  onProblem?: (problem: CodeProblem | null) => void;
  onGoTo?: (line: number, column: number) => void;
}) {
  const { t } = useTranslation();
  const format = useFormat();
  const runs = useAutomationRuns(automation.id);
  const start = useStartRun(automation.id);
  const [params, setParams] = useSearchParams();
  const selectedId = params.get('run');
  const [formValue, setFormValue] = useState<Record<string, unknown>>({});
  const [jsonText, setJsonText] = useState('');
  const jsonId = useId();
  const useForm = formFields(automation.inputSchema) !== null;
  let parsedJson: { ok: boolean; value?: unknown } = { ok: true };
  if (!useForm && jsonText.trim()) {
    try {
      parsedJson = { ok: true, value: JSON.parse(jsonText) };
    } catch {
      parsedJson = { ok: false };
    }
  }
  const open = (id: string) => setParams({ run: id });
  const runNow = () =>
    start.mutate(
      { input: useForm ? formValue : parsedJson.value },
      { onSuccess: (execution) => open(execution.id) },
    );
  const rerun = (run: Execution) =>
    start.mutate(
      { input: inputOf(run), version: run.automationVersion ?? undefined },
      { onSuccess: (execution) => open(execution.id) },
    );
  const items = runs.data ?? [];
  const unfinished = items.some((run) => run.status === 'queued' || run.status === 'running');
  // Runs finish on their own: look again every second while any is still queued or running.
  const refetchRuns = runs.refetch;
  useEffect(() => {
    if (!unfinished) return;
    const timer = setInterval(() => void refetchRuns(), 1000);
    return () => clearInterval(timer);
  }, [unfinished, refetchRuns]);
  const selected = items.find((run) => run.id === selectedId);
  const position = errorPosition(selected?.error ?? null);
  // Only a run of the version in the editor points into the code on screen.
  const inEditor = position !== null && selected?.automationVersion === automation.version;
  const message = selected?.error?.message ?? '';
  // biome-ignore lint/correctness/useExhaustiveDependencies: the place and text are what matter, not the object
  useEffect(() => {
    onProblem?.(inEditor && position ? { ...position, message } : null);
  }, [inEditor, position?.line, position?.column, message, onProblem]);
  const problems = (start.error as { details?: { path: string; message: string }[] } | null)?.details;

  return (
    <section className="card" aria-labelledby="runs-heading">
      <h2 id="runs-heading" className="panel-title">
        {t('automations.saved.runs')}
      </h2>
      {useForm ? (
        <SchemaForm schema={automation.inputSchema} value={formValue} onChange={setFormValue} />
      ) : (
        <>
          <label htmlFor={jsonId} className="field-label">
            {t('automations.input')}
          </label>
          <textarea
            id={jsonId}
            className="input mono input-json"
            rows={3}
            value={jsonText}
            onChange={(e) => setJsonText(e.target.value)}
          />
        </>
      )}
      <Button variant="primary" onClick={runNow} busy={start.isPending} disabled={!parsedJson.ok}>
        {t('automations.saved.runNow')}
      </Button>
      <InlineError error={start.error} />
      {Array.isArray(problems) ? (
        <ul className="inline-error">
          {problems.map((p) => (
            <li key={p.path}>
              <span className="mono">{p.path}</span> {p.message}
            </li>
          ))}
        </ul>
      ) : null}
      {selected ? (
        <div className="run-detail" data-testid="run-detail">
          <h3 className="sub-title">
            <StatusBadge status={selected.status} />{' '}
            {t('automations.saved.runOf', { version: selected.automationVersion })}
          </h3>
          {selected.error ? (
            <ScriptErrorLine error={selected.error} onGoTo={inEditor ? onGoTo : undefined} />
          ) : (
            <pre className="code-block">{JSON.stringify(selected.result, null, 2) ?? '—'}</pre>
          )}
        </div>
      ) : null}
      <QueryStates
        query={runs}
        isEmpty={items.length === 0}
        empty={<p className="muted">{t('automations.saved.noRuns')}</p>}
      >
        <div className="table-scroll">
          <table className="table">
            <thead>
              <tr>
                <th>{t('automations.status')}</th>
                <th>{t('automations.saved.trigger')}</th>
                <th>{t('automations.saved.versionColumn')}</th>
                <th>{t('automations.started')}</th>
                <th>
                  <span className="sr-only">{t('automations.saved.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((run) => (
                <tr key={run.id} aria-selected={run.id === selectedId}>
                  <td>
                    <StatusBadge status={run.status} />
                  </td>
                  <td>{run.trigger ? t(`automations.saved.triggers.${run.trigger}`) : '—'}</td>
                  <td>{run.automationVersion ?? '—'}</td>
                  <td>{format.dateTime(run.scheduledFor ?? run.createdAt)}</td>
                  <td className="row">
                    <Link to={`?run=${run.id}`}>{t('automations.saved.permalink')}</Link>
                    <Button size="sm" onClick={() => rerun(run)}>
                      {t('automations.saved.rerun')}
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <LoadMore pages={runs} />
      </QueryStates>
    </section>
  );
}
