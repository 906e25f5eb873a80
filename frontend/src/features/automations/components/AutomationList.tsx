import { useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import { Button, InlineError, LoadMore, QueryStates, StatusBadge } from '../../../components/ui';
import { useFormat } from '../../../lib';
import { useAutomationList, useCreateAutomation } from '../api/saved';

const starter =
  "// `input` holds the run's input; the value you return is the run's result.\nconst name = input?.name ?? 'world';\nreturn { greeted: name };\n";

/** Saved automations: search, last run status, next scheduled time, and "new automation". */
export function AutomationList() {
  const { t } = useTranslation();
  const format = useFormat();
  const navigate = useNavigate();
  const [search, setSearch] = useState('');
  const list = useAutomationList(search.trim());
  const create = useCreateAutomation();
  const searchId = useId();
  const items = list.data ?? [];
  return (
    <section className="card" aria-labelledby="saved-heading">
      <div className="panel-head row wrap">
        <h2 id="saved-heading" className="panel-title">
          {t('automations.saved.title')}
        </h2>
        <span className="spacer" />
        <label htmlFor={searchId} className="sr-only">
          {t('automations.saved.search')}
        </label>
        <input
          id={searchId}
          type="search"
          className="input input-sm"
          placeholder={t('automations.saved.search')}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <Button
          variant="primary"
          busy={create.isPending}
          onClick={() =>
            create.mutate(
              {
                name: t('automations.saved.untitled'),
                language: 'javascript',
                code: starter,
                inputSchema: { type: 'object', properties: { name: { type: 'string' } } },
              },
              { onSuccess: (made) => navigate(`/automations/${made.id}`) },
            )
          }
        >
          {t('automations.saved.new')}
        </Button>
      </div>
      <InlineError error={create.error} />
      <QueryStates
        query={list}
        isEmpty={items.length === 0}
        empty={<p className="muted">{t('automations.saved.empty')}</p>}
      >
        <ul className="plain-list automation-list">
          {items.map((automation) => (
            <li key={automation.id} className="row wrap">
              <Link to={`/automations/${automation.id}`} className="automation-name">
                {automation.name}
              </Link>
              {automation.enabled ? null : <span className="badge">{t('automations.saved.disabled')}</span>}
              <span className="spacer" />
              {automation.lastRun ? (
                <StatusBadge status={automation.lastRun.status} />
              ) : (
                <span className="muted">{t('automations.saved.neverRun')}</span>
              )}
              <span className="muted">
                {automation.nextFireAt
                  ? t('automations.saved.nextAt', { time: format.dateTime(automation.nextFireAt) })
                  : t('automations.saved.notScheduled')}
              </span>
            </li>
          ))}
        </ul>
        <LoadMore pages={list} />
      </QueryStates>
    </section>
  );
}
