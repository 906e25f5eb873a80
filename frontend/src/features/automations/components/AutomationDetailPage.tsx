import { useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { Button, ErrorState, LoadingState } from '../../../components/ui';
import { useAutomation } from '../api/saved';
import { AutomationEditor } from './AutomationEditor';
import type { CodeEditorHandle, CodeProblem } from './CodeEditor';
import { RunsPanel } from './RunsPanel';
import { SchedulesPanel } from './SchedulesPanel';
import { VersionHistory } from './VersionHistory';
import { WebhooksPanel } from './WebhooksPanel';

/** One automation: editor, runs, versions, schedules and webhook triggers. */
export function AutomationDetailPage() {
  const { t } = useTranslation();
  const { automationId = '' } = useParams();
  const automation = useAutomation(automationId);
  const [problem, setProblem] = useState<CodeProblem | null>(null);
  const editor = useRef<CodeEditorHandle>(null);
  if (automation.isPending) return <LoadingState />;
  if (automation.isError)
    return <ErrorState error={automation.error} onRetry={() => void automation.refetch()} />;
  const current = automation.data;
  return (
    <div className="page">
      <div className="page-head row wrap">
        <Link to="/automations">{t('automations.saved.back')}</Link>
        <h1 className="page-title">{current.name}</h1>
        {current.enabled ? null : <span className="badge">{t('automations.saved.disabled')}</span>}
        <span className="spacer" />
        <Button size="sm" onClick={() => void automation.refetch()}>
          {t('automations.saved.refresh')}
        </Button>
      </div>
      <div className="automation-grid">
        {/* Remounted per version: a restore or a save elsewhere starts the editor from it. */}
        <AutomationEditor key={current.version} automation={current} problem={problem} handle={editor} />
        <RunsPanel
          automation={current}
          onProblem={setProblem}
          onGoTo={(line, column) => editor.current?.goTo(line, column)}
        />
      </div>
      <VersionHistory automation={current} />
      <SchedulesPanel automation={current} />
      <WebhooksPanel automation={current} />
    </div>
  );
}
