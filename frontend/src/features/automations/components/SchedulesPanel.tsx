import { useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Button, InlineError, QueryStates } from '../../../components/ui';
import { type Automation, type ScheduleDraft, useScheduleMutations, useSchedules } from '../api/saved';

/** The user's own zone, the default for a new schedule. */
const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/** Schedules: cron in an IANA zone, policies, and each one's next fire times in the user's zone and language. */
export function SchedulesPanel({ automation }: { automation: Automation }) {
  const { t, i18n } = useTranslation();
  const schedules = useSchedules(automation.id);
  const { create, remove } = useScheduleMutations(automation.id);
  const [draft, setDraft] = useState<ScheduleDraft>({
    cron: '0 9 * * *',
    timeZone: browserZone(),
    enabled: true,
    overlap: 'skip',
    catchUp: 'skip',
  });
  const ids = { cron: useId(), zone: useId(), overlap: useId(), catchUp: useId() };
  const when = new Intl.DateTimeFormat(i18n.resolvedLanguage ?? 'en', {
    dateStyle: 'medium',
    timeStyle: 'short',
    timeZone: browserZone(),
  });
  const items = schedules.data?.items ?? [];
  return (
    <section className="card" aria-labelledby="schedules-heading">
      <h2 id="schedules-heading" className="panel-title">
        {t('automations.saved.schedules')}
      </h2>
      <form
        className="form-grid"
        onSubmit={(event) => {
          event.preventDefault();
          create.mutate(draft);
        }}
      >
        <label htmlFor={ids.cron}>{t('automations.saved.cron')}</label>
        <input
          id={ids.cron}
          className="input mono"
          value={draft.cron}
          onChange={(e) => setDraft({ ...draft, cron: e.target.value })}
        />
        <label htmlFor={ids.zone}>{t('automations.saved.timeZone')}</label>
        <input
          id={ids.zone}
          className="input"
          value={draft.timeZone}
          onChange={(e) => setDraft({ ...draft, timeZone: e.target.value })}
        />
        <label htmlFor={ids.overlap}>{t('automations.saved.overlap')}</label>
        <select
          id={ids.overlap}
          className="select"
          value={draft.overlap}
          onChange={(e) => setDraft({ ...draft, overlap: e.target.value as 'skip' | 'allow' })}
        >
          <option value="skip">{t('automations.saved.overlapSkip')}</option>
          <option value="allow">{t('automations.saved.overlapAllow')}</option>
        </select>
        <label htmlFor={ids.catchUp}>{t('automations.saved.catchUp')}</label>
        <select
          id={ids.catchUp}
          className="select"
          value={draft.catchUp}
          onChange={(e) => setDraft({ ...draft, catchUp: e.target.value as 'skip' | 'once' })}
        >
          <option value="skip">{t('automations.saved.catchUpSkip')}</option>
          <option value="once">{t('automations.saved.catchUpOnce')}</option>
        </select>
        <Button type="submit" variant="primary" busy={create.isPending}>
          {t('automations.saved.addSchedule')}
        </Button>
      </form>
      <InlineError error={create.error} />
      <QueryStates
        query={schedules}
        isEmpty={items.length === 0}
        empty={<p className="muted">{t('automations.saved.noSchedules')}</p>}
      >
        <ul className="plain-list">
          {items.map((schedule) => (
            <li key={schedule.id} className="schedule-item">
              <div className="row wrap">
                <span className="mono">{schedule.cron}</span>
                <span className="muted">{schedule.timeZone}</span>
                <span className="spacer" />
                <Button size="sm" onClick={() => remove.mutate(schedule.id)}>
                  {t('automations.saved.delete')}
                </Button>
              </div>
              <p className="muted">{t('automations.saved.nextTimes', { zone: browserZone() })}</p>
              <ol className="next-times" data-testid="next-fire-times">
                {schedule.nextFireTimes.map((time) => (
                  <li key={time}>
                    <time dateTime={time}>{when.format(new Date(time))}</time>
                  </li>
                ))}
              </ol>
            </li>
          ))}
        </ul>
      </QueryStates>
    </section>
  );
}
