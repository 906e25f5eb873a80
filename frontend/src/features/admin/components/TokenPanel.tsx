import { useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Button, CopyButton, Dialog, InlineError, QueryStates } from '../../../components/ui';
import { type ApiTokenInfo, type User, useFormat } from '../../../lib';
import { useIssueToken, useRevokeSignIn, useRevokeToken, useSignIns, useTokens } from '../api/admin';

/** A new token, shown once: the platform keeps only its hash. */
export function OneTimeToken({ token }: { token: string }) {
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

/** Revoking cuts off whatever uses the token at once, so it is asked for twice. */
function ConfirmRevoke({
  token,
  busy,
  onCancel,
  onConfirm,
}: {
  token: ApiTokenInfo | null;
  busy: boolean;
  onCancel: () => void;
  onConfirm: (token: ApiTokenInfo) => void;
}) {
  const { t } = useTranslation();
  return (
    <Dialog
      open={token !== null}
      title={t('admin.revokeTitle', { name: token?.name ?? '' })}
      onClose={onCancel}
      footer={
        <>
          <Button onClick={onCancel}>{t('common.cancel')}</Button>
          <Button variant="danger" busy={busy} onClick={() => token && onConfirm(token)}>
            {t('admin.revoke')}
          </Button>
        </>
      }
    >
      <p>{t('admin.revokeBody')}</p>
    </Dialog>
  );
}

/** The user's browser sign-ins in force: where from, when last used; each can be ended. */
function SignIns({ user }: { user: User }) {
  const { t } = useTranslation();
  const format = useFormat();
  const signins = useSignIns(user.id);
  const end = useRevokeSignIn(user.id);
  const items = signins.data?.items ?? [];
  return (
    <div className="signins">
      <h3 className="panel-subtitle">{t('admin.signIns')}</h3>
      <InlineError error={end.error} />
      <QueryStates
        query={signins}
        isEmpty={items.length === 0}
        empty={<p className="muted">{t('admin.noSignIns')}</p>}
      >
        <div className="table-wrap">
          <table className="table table-compact">
            <thead>
              <tr>
                <th scope="col">{t('admin.device')}</th>
                <th scope="col">{t('admin.signedIn')}</th>
                <th scope="col">{t('admin.lastUsed')}</th>
                <th scope="col">
                  <span className="sr-only">{t('admin.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((signin) => (
                <tr key={signin.id}>
                  <td>{signin.device ?? t('admin.unknownDevice')}</td>
                  <td>{format.dateTime(signin.createdAt)}</td>
                  <td>{signin.lastUsedAt ? format.relative(signin.lastUsedAt) : t('admin.never')}</td>
                  <td className="num">
                    <Button
                      size="sm"
                      variant="ghost"
                      busy={end.isPending && end.variables === signin.id}
                      onClick={() => end.mutate(signin.id)}
                      aria-label={t('admin.signOutDevice', {
                        device: signin.device ?? t('admin.unknownDevice'),
                      })}
                    >
                      {t('admin.signOut')}
                    </Button>
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

export function TokenPanel({ user }: { user: User }) {
  const { t } = useTranslation();
  const format = useFormat();
  const tokens = useTokens(user.id);
  const items = tokens.data?.items ?? [];
  const [revokedIds, setRevokedIds] = useState<ReadonlySet<string>>(new Set());
  const issue = useIssueToken(user.id);
  const revoke = useRevokeToken(user.id);
  const [name, setName] = useState('');
  const [confirming, setConfirming] = useState<ApiTokenInfo | null>(null);
  // The one-time box shows the token just issued only while that token is still in force.
  const shown = issue.data && !revokedIds.has(issue.data.info.id) ? issue.data : null;
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
      {shown ? <OneTimeToken token={shown.token} /> : null}
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
                        onClick={() => setConfirming(token)}
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
      <SignIns user={user} />
      <ConfirmRevoke
        token={confirming}
        busy={revoke.isPending}
        onCancel={() => setConfirming(null)}
        onConfirm={(token) =>
          revoke.mutate(token.id, {
            onSuccess: () => {
              setRevokedIds((old) => new Set([...old, token.id]));
              setConfirming(null);
            },
          })
        }
      />
    </div>
  );
}
