import { type FormEvent, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Button, InlineError, QueryStates } from '../../../components/ui';
import { allowlistPath, useAllowlist, useSetAllowlist } from '../api/egress';

/**
 * The egress allowlist of one user (for administrators) or one automation (for its owner). It can
 * only narrow the level above it; "not narrowed" removes the level.
 */
export function AllowlistEditor({ target }: { target: { userId: string } | { automationId: string } }) {
  const { t } = useTranslation();
  const path = allowlistPath(target);
  const list = useAllowlist(path);
  const save = useSetAllowlist(path);
  const [text, setText] = useState('');
  useEffect(() => {
    if (list.data) setText((list.data.rules ?? []).join('\n'));
  }, [list.data]);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate(text.split(/[\s,]+/).filter(Boolean));
  };

  return (
    <section className="card" aria-label={t('egress.allowlist')}>
      <h3>{'userId' in target ? t('egress.userAllowlist') : t('egress.automationAllowlist')}</h3>
      <QueryStates query={list} isEmpty={false} empty={null}>
        <p className="hint">
          {t('egress.installation')}:{' '}
          {list.data?.installation.length ? list.data.installation.join(', ') : t('egress.none')}
        </p>
        <p>{list.data?.rules === null ? t('egress.notNarrowed') : t('egress.narrowed')}</p>
        <form onSubmit={submit}>
          <label>
            {t('egress.rules')}
            <textarea
              value={text}
              onChange={(e) => setText(e.target.value)}
              rows={4}
              placeholder="api.example.com"
            />
          </label>
          {save.isError ? <InlineError error={save.error} /> : null}
          <div className="actions">
            <Button type="submit" variant="primary" busy={save.isPending}>
              {t('egress.save')}
            </Button>
            <Button onClick={() => save.mutate(null)}>{t('egress.clear')}</Button>
          </div>
        </form>
      </QueryStates>
    </section>
  );
}
