import { type FormEvent, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Button, Dialog, EmptyState, InlineError, LoadMore, QueryStates } from '../../../components/ui';
import { useFormat } from '../../../lib';
import { AllowlistEditor } from '../../egress';
import { useCreateUser, useUsers } from '../api/admin';
import { AuditLog } from './AuditLog';
import { OneTimeToken, TokenPanel } from './TokenPanel';

function CreateUserDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const create = useCreateUser();
  const [name, setName] = useState('');
  const [isAdmin, setIsAdmin] = useState(false);
  const nameId = useId();
  const adminId = useId();
  const close = () => {
    create.reset();
    setName('');
    setIsAdmin(false);
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (name.trim()) create.mutate({ name: name.trim(), isAdmin });
  };
  return (
    <Dialog open={open} title={t('admin.createUser')} onClose={close}>
      {create.data ? (
        <div className="stack">
          <p>{t('admin.userCreated', { name: create.data.user.name })}</p>
          <OneTimeToken token={create.data.token} />
          <div className="row-end">
            <Button variant="primary" onClick={close}>
              {t('common.done')}
            </Button>
          </div>
        </div>
      ) : (
        <form className="stack" onSubmit={submit}>
          <label htmlFor={nameId} className="field-label">
            {t('admin.userName')}
          </label>
          <input
            id={nameId}
            className="input"
            value={name}
            maxLength={100}
            onChange={(event) => setName(event.target.value)}
            required
          />
          <label htmlFor={adminId} className="check">
            <input
              id={adminId}
              type="checkbox"
              checked={isAdmin}
              onChange={(event) => setIsAdmin(event.target.checked)}
            />
            {t('admin.isAdmin')}
          </label>
          <InlineError error={create.error} />
          <div className="row-end">
            <Button onClick={close}>{t('common.cancel')}</Button>
            <Button type="submit" variant="primary" busy={create.isPending} disabled={!name.trim()}>
              {t('admin.create')}
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

export function AdminPage() {
  const { t } = useTranslation();
  const format = useFormat();
  const users = useUsers();
  const [creating, setCreating] = useState(false);
  const [openUser, setOpenUser] = useState<string | null>(null);
  const items = users.data ?? [];
  return (
    <div className="page">
      <div className="page-head row wrap">
        <h1 className="page-title">{t('admin.title')}</h1>
        <span className="spacer" />
        <Button variant="primary" onClick={() => setCreating(true)}>
          {t('admin.createUser')}
        </Button>
      </div>
      <section className="card" aria-labelledby="users-heading">
        <h2 id="users-heading" className="panel-title">
          {t('admin.users')}
        </h2>
        <QueryStates
          query={users}
          isEmpty={items.length === 0}
          empty={<EmptyState title={t('admin.noUsers')} />}
        >
          <ul className="user-list">
            {items.map((user) => {
              const open = openUser === user.id;
              return (
                <li key={user.id} className="user-row">
                  <div className="row wrap">
                    <button
                      type="button"
                      className="link-btn user-name"
                      aria-expanded={open}
                      aria-controls={`tokens-${user.id}`}
                      onClick={() => setOpenUser(open ? null : user.id)}
                    >
                      <span aria-hidden="true">{open ? '▾ ' : '▸ '}</span>
                      {user.name}
                    </button>
                    {user.isAdmin ? <span className="badge status-running">{t('admin.admin')}</span> : null}
                    <span className="spacer" />
                    <span className="muted">
                      {t('admin.since', { date: format.dateTime(user.createdAt) })}
                    </span>
                  </div>
                  {open ? (
                    <div id={`tokens-${user.id}`}>
                      <TokenPanel user={user} />
                      <AllowlistEditor target={{ userId: user.id }} />
                    </div>
                  ) : null}
                </li>
              );
            })}
          </ul>
        </QueryStates>
        <LoadMore pages={users} />
      </section>
      <AuditLog userNames={new Map(items.map((user) => [user.id, user.name]))} />
      <CreateUserDialog open={creating} onClose={() => setCreating(false)} />
    </div>
  );
}
