import { type FormEvent, useEffect, useId, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { NavLink, useNavigate } from 'react-router';
import { Button, Dialog, EmptyState, InlineError, LoadMore, QueryStates } from '../../../components/ui';
import { type Session, useFormat } from '../../../lib';
import { useCreateSession, useDeleteSession, useRenameSession, useSessions } from '../api/sessions';

export function SessionList({ activeId }: { activeId: string | undefined }) {
  const { t } = useTranslation();
  const [search, setSearch] = useState('');
  const query = useDebounced(search.trim(), 250);
  const sessions = useSessions(query);
  const searchId = useId();
  const create = useCreateSession();
  const navigate = useNavigate();
  const [renaming, setRenaming] = useState<Session | null>(null);
  const [deleting, setDeleting] = useState<Session | null>(null);
  const items = sessions.data ?? [];

  return (
    <section className="session-list" aria-labelledby="sessions-heading">
      <div className="panel-head">
        <h2 id="sessions-heading" className="panel-title">
          {t('sessions.title')}
        </h2>
        <Button
          size="sm"
          variant="primary"
          busy={create.isPending}
          onClick={() =>
            create.mutate(undefined, { onSuccess: (session) => navigate(`/chat/${session.id}`) })
          }
        >
          {t('sessions.new')}
        </Button>
      </div>
      <InlineError error={create.error} />
      <search className="session-search">
        <label htmlFor={searchId} className="sr-only">
          {t('sessions.search')}
        </label>
        <input
          id={searchId}
          type="search"
          className="input input-sm"
          value={search}
          maxLength={200}
          placeholder={t('sessions.searchPlaceholder')}
          onChange={(event) => setSearch(event.target.value)}
        />
      </search>
      <QueryStates
        query={sessions}
        isEmpty={items.length === 0}
        empty={
          query ? (
            <EmptyState title={t('sessions.noMatch', { query })} />
          ) : (
            <EmptyState title={t('sessions.emptyTitle')}>{t('sessions.emptyBody')}</EmptyState>
          )
        }
      >
        <ul className="session-items">
          {items.map((session) => (
            <SessionRow
              key={session.id}
              session={session}
              active={session.id === activeId}
              onRename={() => setRenaming(session)}
              onDelete={() => setDeleting(session)}
            />
          ))}
        </ul>
      </QueryStates>
      <LoadMore pages={sessions} />
      <RenameDialog session={renaming} onClose={() => setRenaming(null)} />
      <DeleteDialog
        session={deleting}
        onClose={() => setDeleting(null)}
        onDeleted={(id) => {
          if (id === activeId) navigate('/chat');
        }}
      />
    </section>
  );
}

/** `value` once it has stopped changing for `ms`: one search request per pause in typing. */
function useDebounced(value: string, ms: number): string {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

function SessionRow({
  session,
  active,
  onRename,
  onDelete,
}: {
  session: Session;
  active: boolean;
  onRename: () => void;
  onDelete: () => void;
}) {
  const { t } = useTranslation();
  const format = useFormat();
  const title = session.title || t('sessions.untitled');
  return (
    <li className={active ? 'session-row active' : 'session-row'}>
      <NavLink to={`/chat/${session.id}`} className="session-link" aria-current={active ? 'page' : undefined}>
        <span className="session-title">{title}</span>
        <span className="session-time muted">{format.relative(session.updatedAt)}</span>
      </NavLink>
      <div className="session-actions">
        <button
          type="button"
          className="icon-btn"
          onClick={onRename}
          aria-label={t('sessions.renameNamed', { title })}
        >
          <span aria-hidden="true">✎</span>
        </button>
        <button
          type="button"
          className="icon-btn"
          onClick={onDelete}
          aria-label={t('sessions.deleteNamed', { title })}
        >
          <span aria-hidden="true">×</span>
        </button>
      </div>
    </li>
  );
}

function RenameDialog({ session, onClose }: { session: Session | null; onClose: () => void }) {
  const { t } = useTranslation();
  const rename = useRenameSession();
  const [title, setTitle] = useState('');
  const [shownFor, setShownFor] = useState<string | null>(null);
  const inputId = useId();
  if (session && shownFor !== session.id) {
    setShownFor(session.id);
    setTitle(session.title);
    rename.reset();
  }
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!session || !title.trim()) return;
    rename.mutate(
      { id: session.id, title: title.trim() },
      {
        onSuccess: () => {
          setShownFor(null);
          onClose();
        },
      },
    );
  };
  return (
    <Dialog
      open={session !== null}
      title={t('sessions.rename')}
      onClose={() => {
        setShownFor(null);
        onClose();
      }}
    >
      <form onSubmit={submit} className="stack">
        <label htmlFor={inputId} className="field-label">
          {t('sessions.titleLabel')}
        </label>
        <input
          id={inputId}
          className="input"
          value={title}
          maxLength={200}
          onChange={(event) => setTitle(event.target.value)}
          autoFocus
        />
        <InlineError error={rename.error} />
        <div className="row-end">
          <Button
            onClick={() => {
              setShownFor(null);
              onClose();
            }}
          >
            {t('common.cancel')}
          </Button>
          <Button type="submit" variant="primary" busy={rename.isPending} disabled={!title.trim()}>
            {t('common.save')}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function DeleteDialog({
  session,
  onClose,
  onDeleted,
}: {
  session: Session | null;
  onClose: () => void;
  onDeleted: (id: string) => void;
}) {
  const { t } = useTranslation();
  const remove = useDeleteSession();
  return (
    <Dialog
      open={session !== null}
      title={t('sessions.deleteTitle')}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>{t('common.cancel')}</Button>
          <Button
            variant="danger"
            busy={remove.isPending}
            onClick={() =>
              session &&
              remove.mutate(session.id, {
                onSuccess: () => {
                  onDeleted(session.id);
                  onClose();
                },
              })
            }
          >
            {t('common.delete')}
          </Button>
        </>
      }
    >
      <p>{t('sessions.deleteBody', { title: session?.title || t('sessions.untitled') })}</p>
      <InlineError error={remove.error} />
    </Dialog>
  );
}
