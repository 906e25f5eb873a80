import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { EmptyState, ErrorState, LoadingState } from '../../../components/ui';
import { SessionList, useSession } from '../../sessions';
import { ChatView } from './ChatView';

export function ChatPage() {
  const { t } = useTranslation();
  const { sessionId } = useParams();
  const session = useSession(sessionId);
  return (
    <div className={sessionId ? 'chat-page has-session' : 'chat-page'}>
      <aside className="chat-sidebar">
        <SessionList activeId={sessionId} />
      </aside>
      <section className="chat-main" aria-labelledby="chat-heading">
        {sessionId ? (
          <>
            <div className="chat-head">
              <Link to="/chat" className="back-link">
                <span aria-hidden="true">‹ </span>
                {t('sessions.title')}
              </Link>
              <h1 id="chat-heading" className="chat-title">
                {session.data?.title || (session.isPending ? '…' : t('sessions.untitled'))}
              </h1>
            </div>
            {session.isError ? (
              <ErrorState error={session.error} />
            ) : session.isPending ? (
              <LoadingState />
            ) : (
              // A new key per session: switching sessions starts a fresh view (draft, live turn, errors).
              <ChatView key={sessionId} sessionId={sessionId} />
            )}
          </>
        ) : (
          <>
            <h1 id="chat-heading" className="sr-only">
              {t('nav.chat')}
            </h1>
            <EmptyState title={t('chat.pickTitle')}>{t('chat.pickBody')}</EmptyState>
          </>
        )}
      </section>
    </div>
  );
}
