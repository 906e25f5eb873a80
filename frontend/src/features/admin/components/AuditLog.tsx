import type { TFunction } from 'i18next';
import { type ReactNode, useDeferredValue, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { EmptyState, LoadMore, QueryStates } from '../../../components/ui';
import { type AuditEntry, shortId, useFormat } from '../../../lib';
import { useAuditLog } from '../api/admin';
import { type AuditFilterDraft, AuditFilters, emptyAuditFilter, toAuditFilter } from './AuditFilters';

/**
 * What an entry was about, by name: a user's name for a user, a token's name and owner for a
 * token, the device and address for a sign-in. Ids are only the last resort.
 */
function describeTarget(entry: AuditEntry, userNames: ReadonlyMap<string, string>, t: TFunction): ReactNode {
  // A name people gave (a user's, a token's) is data, never translated: marked as such.
  const named = (name: string) => <span className="user-name">{name}</span>;
  const details = entry.details as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' && value ? value : null);
  const owner = text(details.userId) ? (userNames.get(details.userId as string) ?? null) : null;
  if (entry.action.startsWith('token.')) {
    const name = text(details.name);
    if (name && owner) return t('admin.targetTokenOf', { name, user: owner });
    if (owner) return t('admin.targetTokenOfUser', { user: owner });
    if (name) return named(name);
  }
  if (entry.action.startsWith('auth.')) {
    const ip = text(details.ip);
    return ip ? t('admin.targetFrom', { ip }) : '—';
  }
  if (entry.target && userNames.has(entry.target)) return named(userNames.get(entry.target) as string);
  const name = text(details.name);
  if (name) return named(name);
  return entry.target ? shortId(entry.target) : '—';
}

/** Who changed what and when: logins, users and tokens (the API records every change). */
export function AuditLog({ userNames }: { userNames: ReadonlyMap<string, string> }) {
  const { t } = useTranslation();
  const format = useFormat();
  const [draft, setDraft] = useState<AuditFilterDraft>(emptyAuditFilter);
  // Typing a date moves through partial values: ask for the settled one.
  const settled = useDeferredValue(draft);
  const filter = toAuditFilter(settled);
  const audit = useAuditLog(filter ?? {});
  const entries = audit.data ?? [];
  const filtered = Object.values(settled).some(Boolean);
  return (
    <section className="card" aria-labelledby="audit-heading">
      <h2 id="audit-heading" className="panel-title">
        {t('admin.audit')}
      </h2>
      <AuditFilters value={draft} onChange={setDraft} userNames={userNames} />
      {filter === null ? (
        <p className="inline-error" role="alert">
          {t('admin.auditRangeInvalid')}
        </p>
      ) : null}
      <QueryStates
        query={audit}
        isEmpty={entries.length === 0}
        empty={<EmptyState title={filtered ? t('admin.auditNoMatch') : t('admin.noAudit')} />}
      >
        <div className="table-wrap">
          <table className="table table-compact">
            <thead>
              <tr>
                <th scope="col">{t('admin.auditAt')}</th>
                <th scope="col">{t('admin.auditActor')}</th>
                <th scope="col">{t('admin.auditAction')}</th>
                <th scope="col">{t('admin.auditTarget')}</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.id}>
                  <td>{format.dateTime(entry.at)}</td>
                  <td>
                    {entry.actorId === null ? (
                      t('admin.auditSystem')
                    ) : (
                      <span className="user-name">
                        {userNames.get(entry.actorId) ?? shortId(entry.actorId)}
                      </span>
                    )}
                  </td>
                  <td>{t(`auditActions.${entry.action}`, { defaultValue: entry.action })}</td>
                  <td>{describeTarget(entry, userNames, t)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </QueryStates>
      <LoadMore pages={audit} />
    </section>
  );
}
