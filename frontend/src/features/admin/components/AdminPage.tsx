import { type FormEvent, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import {
  Button,
  CopyButton,
  Dialog,
  EmptyState,
  InlineError,
  LoadMore,
  QueryStates,
} from '../../../components/ui';
import { type User, useFormat } from '../../../lib';
import { AllowlistEditor } from '../../egress';
import { useAuditLog, useCreateUser, useIssueToken, useRevokeToken, useTokens, useUsers } from '../api/admin';

/** A new token, shown once: the platform keeps only its hash. */
function OneTimeToken({ token }: { token: string }) {
  const { t } = useTranslation();
  return (
    <div className="one-time" role="status">
      <p className="one-time-note">{t('admin.tokenOnce')}</p>
      <div className="row">
        <code className="mono token-value" data-testid="new-token">
          {token}
        </code>
        <CopyButton text={token} />
      </div>
    </div>
  );
}

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

function TokenPanel({ user }: { user: User }) {
  const { t } = useTranslation();
  const format = useFormat();
  const tokens = useTokens(user.id);
  const items = tokens.data?.items ?? [];
  const issue = useIssueToken(user.id);
  const revoke = useRevokeToken(user.id);
  const [name, setName] = useState('');
  const nameId = useId();
  return (
    <div className="token-panel">
      <form
        className="row wrap"
        onSubmit={(event) => {
          event.preventDefault();
          if (name.trim()) issue.mutate(name.trim(), { onSuccess: () => setName('') });
        }}
      >
        <label htmlFor={nameId} className="field-label inline">
          {t('admin.tokenName')}
        </label>
        <input
          id={nameId}
          className="input input-sm"
          value={name}
          maxLength={100}
          onChange={(event) => setName(event.target.value)}
        />
        <Button type="submit" size="sm" variant="primary" busy={issue.isPending} disabled={!name.trim()}>
          {t('admin.issueToken')}
        </Button>
      </form>
      {issue.data ? <OneTimeToken token={issue.data.token} /> : null}
      <InlineError error={issue.error ?? revoke.error} />
      <QueryStates
        query={tokens}
        isEmpty={items.length === 0}
        empty={<p className="muted">{t('admin.noTokens')}</p>}
      >
        <div className="table-wrap">
          <table className="table table-compact">
            <thead>
              <tr>
                <th scope="col">{t('admin.tokenName')}</th>
                <th scope="col">{t('admin.prefix')}</th>
                <th scope="col">{t('admin.created')}</th>
                <th scope="col">{t('admin.lastUsed')}</th>
                <th scope="col">
                  <span className="sr-only">{t('admin.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((token) => (
                <tr key={token.id}>
                  <td>{token.name}</td>
                  <td className="mono">{token.prefix}…</td>
                  <td>{format.dateTime(token.createdAt)}</td>
                  <td>{token.lastUsedAt ? format.relative(token.lastUsedAt) : t('admin.never')}</td>
                  <td className="num">
                    {token.revokedAt ? (
                      <span className="badge status-cancelled">{t('admin.revoked')}</span>
                    ) : token.expiresAt && Date.parse(token.expiresAt) <= Date.now() ? (
                      <span className="badge status-cancelled">{t('admin.expired')}</span>
                    ) : (
                      <Button
                        size="sm"
                        variant="danger"
                        busy={revoke.isPending && revoke.variables === token.id}
                        onClick={() => revoke.mutate(token.id)}
                        aria-label={t('admin.revokeNamed', { name: token.name })}
                      >
                        {t('admin.revoke')}
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </QueryStates>
    </div>
  );
}

/** Who changed what and when: logins, users and tokens (the API records every change). */
function AuditLog({ userNames }: { userNames: ReadonlyMap<string, string> }) {
  const { t } = useTranslation();
  const format = useFormat();
  const audit = useAuditLog();
  const entries = audit.data ?? [];
  return (
    <section className="card" aria-labelledby="audit-heading">
      <h2 id="audit-heading" className="panel-title">
        {t('admin.audit')}
      </h2>
      <QueryStates
        query={audit}
        isEmpty={entries.length === 0}
        empty={<EmptyState title={t('admin.noAudit')} />}
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
                        {userNames.get(entry.actorId) ?? entry.actorId.slice(0, 8)}
                      </span>
                    )}
                  </td>
                  <td className="mono">{entry.action}</td>
                  <td className="mono">{entry.target ?? '—'}</td>
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
