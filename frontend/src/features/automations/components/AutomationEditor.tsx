import { lazy, type Ref, Suspense, useEffect, useId, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Button, InlineError, LoadingState } from '../../../components/ui';
import { type ScriptLanguage, useIsDark } from '../../../lib';
import { useMe } from '../../auth';
import { availableLanguages } from '../api/automations';
import { type Automation, useSaveAutomation } from '../api/saved';
import { clearDraft, type Draft, loadDraft, saveDraft } from '../lib/draft';
import type { CodeEditorHandle, CodeProblem } from './CodeEditor';

const CodeEditor = lazy(() => import('./CodeEditor'));

const fromAutomation = (a: Automation): Draft => ({
  name: a.name,
  language: a.language,
  code: a.code,
  inputSchemaText: a.inputSchema ? JSON.stringify(a.inputSchema, null, 2) : '',
  baseVersion: a.version,
});

function parseSchema(text: string): { ok: true; value: Record<string, unknown> | null } | { ok: false } {
  if (!text.trim()) return { ok: true, value: null };
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value)
      ? { ok: true, value: value as Record<string, unknown> }
      : { ok: false };
  } catch {
    return { ok: false };
  }
}

/**
 * The automation's editor: every save is a new version. The unsaved edit is kept as a draft in
 * the browser (it survives leaving the page), and closing the tab with one asks first.
 */
export function AutomationEditor({
  automation,
  problem,
  handle,
}: {
  automation: Automation;
  /** A run's script error in the saved version's code, marked in the editor. */
  problem?: CodeProblem | null;
  handle?: Ref<CodeEditorHandle>;
}) {
  const { t } = useTranslation();
  const dark = useIsDark();
  const me = useMe();
  const save = useSaveAutomation(automation.id);
  const [draft, setDraft] = useState<Draft>(() => loadDraft(automation.id) ?? fromAutomation(automation));
  const saved = useMemo(() => fromAutomation(automation), [automation]);
  const dirty =
    draft.name !== saved.name ||
    draft.language !== saved.language ||
    draft.code !== saved.code ||
    draft.inputSchemaText.trim() !== saved.inputSchemaText.trim();
  const schema = parseSchema(draft.inputSchemaText);
  const nameId = useId();
  const languageId = useId();
  const schemaId = useId();

  useEffect(() => {
    if (dirty) saveDraft(automation.id, draft);
    else clearDraft(automation.id);
  }, [automation.id, draft, dirty]);

  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  const update = (change: Partial<Draft>) => setDraft((current) => ({ ...current, ...change }));
  const submit = () => {
    if (!schema.ok || !dirty) return;
    save.mutate(
      {
        name: draft.name,
        language: draft.language,
        code: draft.code,
        inputSchema: schema.value,
        expectedVersion: draft.baseVersion,
      },
      {
        onSuccess: (next) => {
          clearDraft(automation.id);
          setDraft(fromAutomation(next));
        },
      },
    );
  };
  const languages = availableLanguages(me.data?.platform as never);

  return (
    <section className="card editor-card" aria-label={t('automations.editor')}>
      <div className="editor-toolbar wrap">
        <label htmlFor={nameId} className="field-label inline">
          {t('automations.saved.name')}
        </label>
        <input
          id={nameId}
          className="input input-sm"
          value={draft.name}
          onChange={(e) => update({ name: e.target.value })}
        />
        <label htmlFor={languageId} className="field-label inline">
          {t('automations.language')}
        </label>
        <select
          id={languageId}
          className="select select-sm"
          value={draft.language}
          onChange={(e) => update({ language: e.target.value as ScriptLanguage })}
        >
          {(languages.includes(draft.language) ? languages : [...languages, draft.language]).map((option) => (
            <option key={option} value={option}>
              {t(`automations.languages.${option}`)}
            </option>
          ))}
        </select>
        <span className="spacer" />
        {dirty ? (
          <span className="muted" role="status">
            {t('automations.saved.unsaved', { version: draft.baseVersion })}
          </span>
        ) : (
          <span className="muted">{t('automations.saved.version', { version: automation.version })}</span>
        )}
        {dirty ? <Button onClick={() => setDraft(saved)}>{t('automations.saved.discard')}</Button> : null}
        <Button
          variant="primary"
          onClick={submit}
          busy={save.isPending}
          disabled={!dirty || !schema.ok || !draft.name.trim()}
        >
          {t('automations.saved.save')}
        </Button>
      </div>
      <Suspense fallback={<LoadingState label={t('automations.loadingEditor')} />}>
        <CodeEditor
          value={draft.code}
          onChange={(code) => update({ code })}
          language={draft.language}
          label={t('automations.codeLabel')}
          dark={dark}
          onSubmit={submit}
          problem={problem}
          handle={handle}
        />
      </Suspense>
      <label htmlFor={schemaId} className="field-label">
        {t('automations.saved.inputSchema')}
      </label>
      <textarea
        id={schemaId}
        className="input mono input-json"
        rows={5}
        spellCheck={false}
        value={draft.inputSchemaText}
        onChange={(e) => update({ inputSchemaText: e.target.value })}
        aria-invalid={!schema.ok || undefined}
      />
      {schema.ok ? null : (
        <p className="inline-error" role="alert">
          {t('automations.saved.schemaInvalid')}
        </p>
      )}
      <InlineError error={save.error} />
    </section>
  );
}
