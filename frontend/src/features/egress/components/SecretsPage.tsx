import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Button, InlineError, QueryStates } from '../../../components/ui';
import { useMe } from '../../auth';
import { type SecretSummary, useDeleteSecret, usePutSecret, useSecrets } from '../api/egress';

const splitList = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

/** Create or replace one secret. The value field starts empty every time: it is write-only. */
function SecretForm({ editing, onDone }: { editing?: SecretSummary; onDone: () => void }) {
  const { t } = useTranslation();
  const put = usePutSecret();
  const [name, setName] = useState(editing?.name ?? '');
  const [value, setValue] = useState('');
  const [hosts, setHosts] = useState(editing?.hosts.join(', ') ?? '');
  const initial = editing?.delivery;
  const [mode, setMode] = useState<'header' | 'query'>(initial && 'query' in initial ? 'query' : 'header');
  const [header, setHeader] = useState(initial && 'header' in initial ? initial.header : 'Authorization');
  const [template, setTemplate] = useState(
    initial && 'header' in initial ? initial.template : 'Bearer {value}',
  );
  const [query, setQuery] = useState(initial && 'query' in initial ? initial.query : '');

  const submit = (event: FormEvent) => {
    event.preventDefault();
    put.mutate(
      {
        name,
        value,
        hosts: splitList(hosts),
        delivery: mode === 'header' ? { header, template } : { query },
      },
      {
        onSuccess: () => {
          setValue('');
          onDone();
        },
      },
    );
  };

  return (
    <form
      className="card form"
      onSubmit={submit}
      aria-label={editing ? t('secrets.replaceTitle') : t('secrets.createTitle')}
    >
      <h2>{editing ? t('secrets.replaceTitle', { name: editing.name }) : t('secrets.createTitle')}</h2>
      <label>
        {t('secrets.name')}
        <input value={name} onChange={(e) => setName(e.target.value)} required readOnly={Boolean(editing)} />
      </label>
      <label>
        {t('secrets.value')}
        <input
          type="password"
          autoComplete="off"
          value={value}
          onChange={(e) => setValue(e.target.value)}
          required
        />
      </label>
      <p className="hint">{t('secrets.valueHint')}</p>
      <label>
        {t('secrets.hosts')}
        <input
          value={hosts}
          onChange={(e) => setHosts(e.target.value)}
          placeholder="api.example.com"
          required
        />
      </label>
      <fieldset>
        <legend>{t('secrets.delivery')}</legend>
        <label>
          <input type="radio" checked={mode === 'header'} onChange={() => setMode('header')} />
          {t('secrets.asHeader')}
        </label>
        <label>
          <input type="radio" checked={mode === 'query'} onChange={() => setMode('query')} />
          {t('secrets.asQuery')}
        </label>
        {mode === 'header' ? (
          <>
            <label>
              {t('secrets.headerName')}
              <input value={header} onChange={(e) => setHeader(e.target.value)} required />
            </label>
            <label>
              {t('secrets.template')}
              <input value={template} onChange={(e) => setTemplate(e.target.value)} required />
            </label>
          </>
        ) : (
          <label>
            {t('secrets.queryName')}
            <input value={query} onChange={(e) => setQuery(e.target.value)} required />
          </label>
        )}
      </fieldset>
      {put.isError ? <InlineError error={put.error} /> : null}
      <div className="actions">
        <Button type="submit" variant="primary" busy={put.isPending}>
          {t('secrets.save')}
        </Button>
        <Button onClick={onDone}>{t('secrets.cancel')}</Button>
      </div>
    </form>
  );
}

export function SecretsPage() {
  const { t } = useTranslation();
  const me = useMe();
  const secrets = useSecrets();
  const remove = useDeleteSecret();
  const [editing, setEditing] = useState<SecretSummary | 'new' | undefined>();
  const egress = me.data?.platform.egress;

  return (
    <main className="page">
      <h1>{t('secrets.title')}</h1>
      <p>{t('secrets.intro')}</p>
      {egress && !egress.enforced ? (
        <p role="alert" className="warning">
          {t('secrets.notEnforced')}
        </p>
      ) : null}
      {secrets.data && !secrets.data.enabled ? <p className="warning">{t('secrets.disabled')}</p> : null}
      {editing ? (
        <SecretForm editing={editing === 'new' ? undefined : editing} onDone={() => setEditing(undefined)} />
      ) : (
        <Button
          variant="primary"
          onClick={() => setEditing('new')}
          disabled={secrets.data?.enabled === false}
        >
          {t('secrets.create')}
        </Button>
      )}
      <QueryStates
        query={secrets}
        isEmpty={secrets.data?.secrets.length === 0}
        empty={<p>{t('secrets.empty')}</p>}
      >
        <table className="table">
          <thead>
            <tr>
              <th>{t('secrets.name')}</th>
              <th>{t('secrets.value')}</th>
              <th>{t('secrets.hosts')}</th>
              <th>{t('secrets.delivery')}</th>
              <th>
                <span className="sr-only">{t('secrets.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {secrets.data?.secrets.map((secret) => (
              <tr key={secret.name}>
                <td>
                  <code>{secret.name}</code>
                </td>
                <td aria-label={t('secrets.masked')}>••••••••</td>
                <td>{secret.hosts.join(', ')}</td>
                <td>
                  {'header' in secret.delivery
                    ? `${secret.delivery.header}: ${secret.delivery.template}`
                    : `?${secret.delivery.query}=`}
                </td>
                <td>
                  <Button size="sm" onClick={() => setEditing(secret)}>
                    {t('secrets.replace')}
                  </Button>
                  <Button
                    size="sm"
                    variant="danger"
                    busy={remove.isPending && remove.variables === secret.name}
                    onClick={() => {
                      if (window.confirm(t('secrets.confirmDelete', { name: secret.name })))
                        remove.mutate(secret.name);
                    }}
                  >
                    {t('secrets.delete')}
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </QueryStates>
      {remove.isError ? <InlineError error={remove.error} /> : null}
      <p className="hint">{t('secrets.usage')}</p>
    </main>
  );
}
