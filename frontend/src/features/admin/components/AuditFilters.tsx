import { useId } from 'react';
import { useTranslation } from 'react-i18next';
import { Button } from '../../../components/ui';
import type { AuditFilter } from '../api/admin';

/** The actions the API records, by family; a family's own entry (`token.`) selects all of it. */
const actionFamilies: Record<string, string[]> = {
  auth: ['auth.login', 'auth.login_failed', 'auth.logout'],
  user: ['user.create'],
  token: ['token.issue', 'token.revoke'],
  secret: ['secret.create', 'secret.replace', 'secret.delete'],
  egress: ['egress.user.set', 'egress.automation.set'],
  sandbox: ['sandbox.reset'],
};

/** What the form holds: `datetime-local` text in the browser's time zone, or empty. */
export interface AuditFilterDraft {
  actorId: string;
  action: string;
  from: string;
  to: string;
}

export const emptyAuditFilter: AuditFilterDraft = { actorId: '', action: '', from: '', to: '' };

/** The API's filter from the form, or null when the range is backwards (from at or after to). */
export function toAuditFilter(draft: AuditFilterDraft): AuditFilter | null {
  const instant = (local: string) => {
    if (!local) return undefined;
    const time = new Date(local);
    return Number.isNaN(time.getTime()) ? undefined : time.toISOString();
  };
  const filter: AuditFilter = {
    actorId: draft.actorId || undefined,
    action: draft.action || undefined,
    from: instant(draft.from),
    to: instant(draft.to),
  };
  if (filter.from && filter.to && filter.from >= filter.to) return null;
  return filter;
}

export function AuditFilters({
  value,
  onChange,
  userNames,
}: {
  value: AuditFilterDraft;
  onChange: (value: AuditFilterDraft) => void;
  userNames: ReadonlyMap<string, string>;
}) {
  const { t } = useTranslation();
  const ids = { actor: useId(), action: useId(), from: useId(), to: useId() };
  const set = (key: keyof AuditFilterDraft) => (event: { target: { value: string } }) =>
    onChange({ ...value, [key]: event.target.value });
  const changed = Object.values(value).some(Boolean);
  return (
    <fieldset className="audit-filters">
      <legend className="sr-only">{t('admin.auditFilters')}</legend>
      <div className="field-inline">
        <label htmlFor={ids.actor} className="field-label">
          {t('admin.auditActor')}
        </label>
        <select id={ids.actor} className="select select-sm" value={value.actorId} onChange={set('actorId')}>
          <option value="">{t('admin.auditAnyone')}</option>
          {[...userNames].map(([id, name]) => (
            // A person's name is data, never translated: marked as such.
            <option key={id} value={id} className="user-name">
              {name}
            </option>
          ))}
        </select>
      </div>
      <div className="field-inline">
        <label htmlFor={ids.action} className="field-label">
          {t('admin.auditAction')}
        </label>
        <select id={ids.action} className="select select-sm" value={value.action} onChange={set('action')}>
          <option value="">{t('admin.auditAnyAction')}</option>
          {Object.entries(actionFamilies).map(([family, actions]) => (
            <optgroup key={family} label={t(`admin.auditFamilies.${family}`)}>
              <option value={`${family}.`}>
                {t('admin.auditFamilyAll', { family: t(`admin.auditFamilies.${family}`) })}
              </option>
              {actions.map((action) => (
                <option key={action} value={action}>
                  {t(`auditActions.${action}`, { defaultValue: action })}
                </option>
              ))}
            </optgroup>
          ))}
        </select>
      </div>
      <div className="field-inline">
        <label htmlFor={ids.from} className="field-label">
          {t('admin.auditFrom')}
        </label>
        <input
          id={ids.from}
          type="datetime-local"
          className="input input-sm"
          value={value.from}
          max={value.to || undefined}
          onChange={set('from')}
        />
      </div>
      <div className="field-inline">
        <label htmlFor={ids.to} className="field-label">
          {t('admin.auditTo')}
        </label>
        <input
          id={ids.to}
          type="datetime-local"
          className="input input-sm"
          value={value.to}
          min={value.from || undefined}
          onChange={set('to')}
        />
      </div>
      {changed ? (
        <Button size="sm" variant="ghost" onClick={() => onChange(emptyAuditFilter)}>
          {t('admin.auditClear')}
        </Button>
      ) : null}
    </fieldset>
  );
}
