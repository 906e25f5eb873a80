import { useTranslation } from 'react-i18next';
import { QueryStates } from '../../../components/ui';
import { useExecutionEgress } from '../api/egress';

/** Every request a run made through the egress proxy, refusals with their reason. */
export function EgressLog({ executionId }: { executionId: string }) {
  const { t } = useTranslation();
  const log = useExecutionEgress(executionId);
  return (
    <section aria-label={t('egress.log')}>
      <h3>{t('egress.log')}</h3>
      <QueryStates query={log} isEmpty={log.data?.items.length === 0} empty={<p>{t('egress.noRequests')}</p>}>
        <table className="table">
          <thead>
            <tr>
              <th>{t('egress.method')}</th>
              <th>{t('egress.host')}</th>
              <th>{t('egress.status')}</th>
              <th>{t('egress.bytes')}</th>
              <th>{t('egress.duration')}</th>
              <th>{t('egress.outcome')}</th>
            </tr>
          </thead>
          <tbody>
            {log.data?.items.map((entry) => (
              <tr key={entry.id}>
                <td>{entry.method}</td>
                <td>
                  {entry.host}:{entry.port}
                </td>
                <td>{entry.status ?? '—'}</td>
                <td>
                  ↑{entry.bytesSent} ↓{entry.bytesReceived}
                </td>
                <td>{entry.durationMs} ms</td>
                <td>
                  {t(`egress.outcomes.${entry.outcome}`)}
                  {entry.reason ? <div className="hint">{entry.reason}</div> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </QueryStates>
    </section>
  );
}
