import { lazy, Suspense, useId, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { Button, EmptyState, ErrorState, LoadingState } from '../../../components/ui';
import { useFormat } from '../../../lib';
import { type MinutePoint, toMinuteSeries, useAdminStats } from '../api/ops';

const LineChart = lazy(() => import('./LineChart'));

/** The run history filtered by one status (its filters live in the address; see RunHistory). */
const runsWithStatus = (status: string) => `/automations?status=${encodeURIComponent(status)}&kind=any`;

function Figure({
  label,
  value,
  hint,
  link,
}: {
  label: string;
  value: string;
  hint?: string;
  link?: { to: string; label: string };
}) {
  return (
    <div className="figure card">
      <p className="figure-label">{label}</p>
      <p className="figure-value">
        {link ? (
          <Link to={link.to} aria-label={link.label} title={link.label}>
            {value}
          </Link>
        ) : (
          value
        )}
      </p>
      {hint ? <p className="figure-hint muted">{hint}</p> : null}
    </div>
  );
}

const ranges = [15, 60, 360, 1440] as const;
const refreshes = [5_000, 30_000, 0] as const;

/** Sums over the window: how many finished, how many of those failed. */
function windowTotals(series: MinutePoint[]) {
  let total = 0;
  let failed = 0;
  for (const point of series) {
    total += point.total;
    failed += point.failed;
  }
  return { total, failed, rate: total > 0 ? failed / total : null };
}

export function OpsPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const [minutes, setMinutes] = useState<number>(60);
  const [refreshMs, setRefreshMs] = useState<number>(5_000);
  const rangeId = useId();
  const refreshId = useId();
  const stats = useAdminStats(minutes, refreshMs);
  const series = useMemo(() => toMinuteSeries(stats.data?.executions.perMinute ?? []), [stats.data]);
  const throughput = useMemo(
    () => [series.map((point) => point.time), series.map((point) => point.total)] as [number[], number[]],
    [series],
  );
  const failures = useMemo(
    () =>
      [series.map((point) => point.time), series.map((point) => point.failureRate)] as [number[], number[]],
    [series],
  );

  const latency = useMemo(
    () =>
      [
        series.map((point) => point.time),
        series.map((point) => point.p95DurationMs),
        series.map((point) => point.p95QueueWaitMs),
      ] as [number[], (number | null)[], (number | null)[]],
    [series],
  );
  const totals = useMemo(() => windowTotals(series), [series]);

  if (stats.isPending) return <LoadingState />;
  if (stats.isError) return <ErrorState error={stats.error} onRetry={() => void stats.refetch()} />;
  const { queue, executions, workers } = stats.data;

  return (
    <div className="page">
      <div className="page-head">
        <h1 className="page-title">{t('ops.title')}</h1>
        <p className="muted" aria-live="polite">
          {t('ops.updated', { time: format.dateTime(new Date(stats.dataUpdatedAt).toISOString()) })}
        </p>
        <div className="row wrap ops-controls">
          <label htmlFor={rangeId} className="field-label inline">
            {t('ops.range')}
          </label>
          <select
            id={rangeId}
            className="select select-sm"
            value={minutes}
            onChange={(event) => setMinutes(Number(event.target.value))}
          >
            {ranges.map((range) => (
              <option key={range} value={range}>
                {t(`ops.ranges.${range}`)}
              </option>
            ))}
          </select>
          <label htmlFor={refreshId} className="field-label inline">
            {t('ops.autoRefresh')}
          </label>
          <select
            id={refreshId}
            className="select select-sm"
            value={refreshMs}
            onChange={(event) => setRefreshMs(Number(event.target.value))}
          >
            {refreshes.map((every) => (
              <option key={every} value={every}>
                {t(`ops.refreshes.${every}`)}
              </option>
            ))}
          </select>
          <Button size="sm" onClick={() => void stats.refetch()} busy={stats.isFetching}>
            {t('common.refresh')}
          </Button>
        </div>
      </div>
      <div className="figures">
        <Figure
          label={t('ops.queueDepth')}
          value={format.number(queue.waiting + queue.delayed)}
          hint={t('ops.queueHint', {
            waiting: format.number(queue.waiting),
            delayed: format.number(queue.delayed),
          })}
        />
        <Figure
          label={t('ops.running')}
          value={format.number(executions.byStatus.running ?? 0)}
          link={{
            to: runsWithStatus('running'),
            label: t('ops.showRuns', {
              status: t('status.running'),
              count: format.number(executions.byStatus.running ?? 0),
            }),
          }}
        />
        <Figure label={t('ops.workers')} value={format.number(workers.length)} />
        <Figure
          label={t('ops.failureRate')}
          value={totals.rate === null ? '—' : format.percent(totals.rate)}
          hint={t('ops.failedOf', {
            failed: format.number(totals.failed),
            total: format.number(totals.total),
            range: t(`ops.ranges.${minutes}`),
          })}
        />
      </div>
      <div className="chart-grid">
        <section className="card" aria-labelledby="throughput-heading">
          <h2 id="throughput-heading" className="panel-title">
            {t('ops.perMinute')}
          </h2>
          {series.length === 0 ? (
            <EmptyState title={t('ops.noData')} />
          ) : (
            <Suspense fallback={<LoadingState />}>
              <LineChart
                data={throughput}
                series={[{ label: t('ops.executions'), color: '#3b5bdb' }]}
                label={t('ops.perMinute')}
                formatValue={format.number}
                locale={format.locale}
                timeLabel={t('ops.time')}
              />
            </Suspense>
          )}
        </section>
        <section className="card" aria-labelledby="failure-heading">
          <h2 id="failure-heading" className="panel-title">
            {t('ops.failureRate')}
          </h2>
          {series.length === 0 ? (
            <EmptyState title={t('ops.noData')} />
          ) : (
            <Suspense fallback={<LoadingState />}>
              <LineChart
                data={failures}
                series={[{ label: t('ops.failureRate'), color: '#e03131' }]}
                label={t('ops.failureRate')}
                formatValue={format.percent}
                locale={format.locale}
                timeLabel={t('ops.time')}
              />
            </Suspense>
          )}
        </section>
        <section className="card" aria-labelledby="latency-heading">
          <h2 id="latency-heading" className="panel-title">
            {t('ops.latency')}
          </h2>
          {series.every((point) => point.p95DurationMs === null && point.p95QueueWaitMs === null) ? (
            <EmptyState title={t('ops.noData')} />
          ) : (
            <Suspense fallback={<LoadingState />}>
              <LineChart
                data={latency}
                series={[
                  { label: t('ops.p95Duration'), color: '#3b5bdb' },
                  { label: t('ops.p95QueueWait'), color: '#b35c00' },
                ]}
                label={t('ops.latency')}
                formatValue={format.duration}
                locale={format.locale}
                timeLabel={t('ops.time')}
              />
            </Suspense>
          )}
        </section>
      </div>
      <section className="card" aria-labelledby="workers-heading">
        <h2 id="workers-heading" className="panel-title">
          {t('ops.workers')}
        </h2>
        {workers.length === 0 ? (
          <EmptyState title={t('ops.noWorkers')} />
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">{t('ops.worker')}</th>
                  <th scope="col">{t('ops.isolation')}</th>
                  <th scope="col" className="num">
                    {t('ops.runningOf')}
                  </th>
                  <th scope="col">{t('ops.pool')}</th>
                  <th scope="col">{t('ops.heartbeat')}</th>
                </tr>
              </thead>
              <tbody>
                {workers.map((worker) => (
                  <tr key={worker.workerId}>
                    <td>
                      <span className="mono">{worker.hostname}</span>
                      <span className="muted"> · {worker.pid}</span>
                      {worker.draining ? (
                        <span className="badge status-cancelled">{t('ops.draining')}</span>
                      ) : null}
                    </td>
                    <td>
                      <span
                        className={
                          worker.isolation === 'bwrap' ? 'badge status-succeeded' : 'badge status-queued'
                        }
                      >
                        {t(`isolation.${worker.isolation}`, { defaultValue: worker.isolation })}
                      </span>
                    </td>
                    <td className="num">
                      {format.number(worker.running)} / {format.number(worker.concurrency)}
                    </td>
                    <td>
                      {/* The flex box sits inside the cell: a cell that is itself a flex box
                          leaves the table and the browser adds an empty row around it. */}
                      <div className="pool">
                        {Object.entries(worker.pool).map(([key, value]) => (
                          <span key={key} className="pool-item">
                            {t(`ops.poolKeys.${key}`, { defaultValue: key })}: {format.number(value)}
                          </span>
                        ))}
                      </div>
                    </td>
                    <td>{format.relative(worker.at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section className="card" aria-labelledby="status-heading">
        <h2 id="status-heading" className="panel-title">
          {t('ops.byStatus')}
        </h2>
        <dl className="facts">
          {Object.entries(executions.byStatus).map(([status, count]) => {
            const name = t(`status.${status}`, { defaultValue: status });
            return (
              <div key={status}>
                <dt>{name}</dt>
                <dd>
                  <Link
                    to={runsWithStatus(status)}
                    aria-label={t('ops.showRuns', { status: name, count: format.number(count) })}
                  >
                    {format.number(count)}
                  </Link>
                </dd>
              </div>
            );
          })}
        </dl>
        <p className="field-hint">{t('ops.byStatusHint')}</p>
      </section>
    </div>
  );
}
