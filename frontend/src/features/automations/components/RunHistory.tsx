import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import { useSearchParams } from 'react-router';
import { Button, EmptyState, LoadMore, QueryStates, StatusBadge } from '../../../components/ui';
import { type Execution, type ExecutionStatus, useFormat } from '../../../lib';
import { type RunFilters, useRuns } from '../api/automations';

const statuses: ExecutionStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'];

/**
 * The history's filters live in the address (`?status=failed&kind=any`), so a link — the
 * operations page's status counts — opens the list already filtered. Without `kind` the list
 * shows script runs; `any` shows every kind. Unknown values are ignored.
 */
export function runFiltersFrom(params: URLSearchParams): Required<RunFilters> {
  const status = params.get('status') ?? '';
  const kind = params.get('kind');
  return {
    status: (statuses as string[]).includes(status) ? (status as ExecutionStatus) : '',
    kind: kind === 'any' ? '' : kind === 'agent' ? 'agent' : 'script',
  };
}

function summary(execution: Execution): string {
  const input = execution.input;
  if ('code' in input)
    return input.code.split('\n').find((line) => line.trim() && !line.trim().startsWith('//')) ?? '';
  return input.text;
}

export function RunHistory({
  selectedId,
  onSelect,
}: {
  selectedId: string | null;
  onSelect: (id: string) => void;
}) {
  const { t } = useTranslation();
  const format = useFormat();
  const [params, setParams] = useSearchParams();
  const filters = runFiltersFrom(params);
  const runs = useRuns(filters);
  const setFilter = (key: 'status' | 'kind', value: string) =>
    setParams(
      (old) => {
        const next = new URLSearchParams(old);
        if (key === 'kind') next.set('kind', value || 'any');
        else if (value) next.set('status', value);
        else next.delete('status');
        return next;
      },
      { replace: true },
    );
  const statusId = useId();
  const kindId = useId();
  const items = runs.data ?? [];
  return (
    <section className="card" aria-labelledby="history-heading">
      <div className="panel-head wrap">
        <h2 id="history-heading" className="panel-title">
          {t('automations.history')}
        </h2>
        <div className="row">
          <label htmlFor={kindId} className="field-label inline">
            {t('automations.kind')}
          </label>
          <select
            id={kindId}
            className="select select-sm"
            value={filters.kind}
            onChange={(event) => setFilter('kind', event.target.value)}
          >
            <option value="">{t('automations.all')}</option>
            <option value="script">{t('automations.kinds.script')}</option>
            <option value="agent">{t('automations.kinds.agent')}</option>
          </select>
          <label htmlFor={statusId} className="field-label inline">
            {t('automations.status')}
          </label>
          <select
            id={statusId}
            className="select select-sm"
            value={filters.status}
            onChange={(event) => setFilter('status', event.target.value)}
          >
            <option value="">{t('automations.all')}</option>
            {statuses.map((status) => (
              <option key={status} value={status}>
                {t(`status.${status}`)}
              </option>
            ))}
          </select>
          <Button size="sm" variant="ghost" onClick={() => void runs.refetch()}>
            {t('common.refresh')}
          </Button>
        </div>
      </div>
      <QueryStates
        query={runs}
        isEmpty={items.length === 0}
        empty={<EmptyState title={t('automations.historyEmpty')} />}
      >
        <div className="table-wrap">
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t('automations.started')}</th>
                <th scope="col">{t('automations.kind')}</th>
                <th scope="col">{t('automations.status')}</th>
                <th scope="col" className="num">
                  {t('automations.duration')}
                </th>
                <th scope="col">{t('automations.summary')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((execution) => (
                <tr key={execution.id} className={execution.id === selectedId ? 'selected' : undefined}>
                  <td>
                    <button type="button" className="link-btn" onClick={() => onSelect(execution.id)}>
                      {format.dateTime(execution.createdAt)}
                    </button>
                  </td>
                  <td>
                    {execution.kind === 'script' && 'language' in execution.input
                      ? t(`automations.languages.${execution.input.language}`)
                      : t(`automations.kinds.${execution.kind}`)}
                  </td>
                  <td>
                    <StatusBadge status={execution.status} />
                  </td>
                  <td className="num">{format.duration(execution.durationMs)}</td>
                  <td className="mono ellipsis">{summary(execution)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </QueryStates>
      <LoadMore pages={runs} />
    </section>
  );
}
