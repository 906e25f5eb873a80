import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Button, InlineError, QueryStates } from '../../../components/ui';
import { useFormat } from '../../../lib';
import { type Automation, type AutomationVersion, useSaveAutomation, useVersions } from '../api/saved';
import { diffLines } from '../lib/diff';
import { clearDraft } from '../lib/draft';

/** Saved versions, a diff of any of them against the current one, and "restore this version". */
export function VersionHistory({ automation }: { automation: Automation }) {
  const { t } = useTranslation();
  const format = useFormat();
  const versions = useVersions(automation.id);
  const save = useSaveAutomation(automation.id);
  const [selected, setSelected] = useState<AutomationVersion | null>(null);
  const restore = (version: AutomationVersion) =>
    save.mutate(
      {
        language: version.language,
        code: version.code,
        inputSchema: version.inputSchema,
        expectedVersion: automation.version,
      },
      {
        onSuccess: () => {
          clearDraft(automation.id);
          setSelected(null);
        },
      },
    );
  return (
    <section className="card" aria-labelledby="versions-heading">
      <h2 id="versions-heading" className="panel-title">
        {t('automations.saved.versions')}
      </h2>
      <QueryStates
        query={versions}
        isEmpty={(versions.data ?? []).length === 0}
        empty={<p className="muted">{t('automations.saved.noVersions')}</p>}
      >
        {
          <ul className="plain-list">
            {(versions.data ?? []).map((version) => (
              <li key={version.version} className="row wrap">
                <button
                  type="button"
                  className="link-button"
                  onClick={() => setSelected(version)}
                  aria-pressed={selected?.version === version.version}
                >
                  {t('automations.saved.version', { version: version.version })}
                </button>
                <span className="muted">{format.dateTime(version.createdAt)}</span>
                {version.version === automation.version ? (
                  <span className="badge">{t('automations.saved.current')}</span>
                ) : null}
              </li>
            ))}
          </ul>
        }
      </QueryStates>
      {selected ? (
        <div className="version-diff">
          <h3 className="sub-title">
            {t('automations.saved.diffTitle', { from: selected.version, to: automation.version })}
          </h3>
          <pre className="code-block diff" data-testid="version-diff">
            {diffLines(selected.code, automation.code).map((line, index) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: a diff is rendered whole, never reordered
              <span key={index} className={`diff-${line.kind}`}>
                {line.kind === 'added' ? '+ ' : line.kind === 'removed' ? '- ' : '  '}
                {line.text}
                {'\n'}
              </span>
            ))}
          </pre>
          {selected.version !== automation.version ? (
            <Button variant="primary" busy={save.isPending} onClick={() => restore(selected)}>
              {t('automations.saved.restore', { version: selected.version })}
            </Button>
          ) : null}
          <InlineError error={save.error} />
        </div>
      ) : null}
    </section>
  );
}
