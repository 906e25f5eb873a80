import { useQueryClient } from '@tanstack/react-query';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Button, EmptyState, ErrorState, InlineError, LoadingState } from '../../../components/ui';
import {
  ApiError,
  type Execution,
  terminalStatuses,
  usageOf,
  useExecutionStream,
  useServerText,
} from '../../../lib';
import { useMe } from '../../auth';
import { filesQueryKey, uploadFiles } from '../../files';
import { sessionsQueryKey } from '../../sessions';
import {
  messagesQueryKey,
  sessionExecutionsQueryKey,
  useCancelExecution,
  useMessages,
  useSendMessage,
  useSessionExecutions,
} from '../api/chat';
import { Composer } from './Composer';
import { StoredTurn, TranscriptItems, TurnFailure, UsageLine, UserBubble } from './Transcript';
import { executionOfMessages, toTurns } from './turns';
import { useFollowScroll } from './use-follow-scroll';

function LiveTurn({
  executionId,
  onFinished,
  onRunning,
}: {
  executionId: string;
  onFinished: () => void;
  onRunning: (running: boolean) => void;
}) {
  const { t } = useTranslation();
  const text = useServerText();
  const { view, connection, error } = useExecutionStream(executionId, onFinished);
  const running = !terminalStatuses.includes(view.status as Execution['status']);
  useEffect(() => onRunning(running), [running, onRunning]);
  return (
    <div className="reply live" data-testid="live-turn">
      <div role="log" aria-live="polite" aria-busy={running} aria-label={t('chat.replyRegion')}>
        <TranscriptItems items={view.items} />
      </div>
      {running && view.items.length === 0 ? (
        <p className="muted typing">
          <span className="spinner spinner-inline" aria-hidden="true" />
          {view.status === 'running' ? t('chat.thinking') : t('chat.waiting')}
        </p>
      ) : null}
      {connection === 'reconnecting' ? (
        <p className="muted" role="status">
          {t('chat.reconnecting')}
        </p>
      ) : null}
      {error ? (
        <p className="inline-error" role="alert">
          {text.thrown(error)}
        </p>
      ) : null}
      {!running && view.status !== 'succeeded' ? (
        <TurnFailure status={view.status} error={view.error} />
      ) : null}
      <div className="live-foot">
        <UsageLine usage={usageOf(view)} durationMs={view.durationMs} />
      </div>
    </div>
  );
}

export function ChatView({ sessionId }: { sessionId: string }) {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const me = useMe();
  const messages = useMessages(sessionId);
  const executions = useSessionExecutions(sessionId);
  const send = useSendMessage(sessionId);
  const cancel = useCancelExecution();
  const [draft, setDraft] = useState('');
  const [liveId, setLiveId] = useState<string | null>(null);
  const [liveRunning, setLiveRunning] = useState(false);
  const [attaching, setAttaching] = useState(false);
  const [attachError, setAttachError] = useState<unknown>(null);
  const scrollRef = useRef<HTMLDivElement>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  // The whole conversation: later pages are still being followed while `hasNextPage`.
  const loaded = !messages.isPending && !messages.isError && !messages.hasNextPage;
  const follow = useFollowScroll(scrollRef, loaded);

  const executionsById = useMemo(
    () => new Map((executions.data?.items ?? []).map((execution) => [execution.id, execution])),
    [executions.data],
  );

  // After a reload (or in another tab) a turn may still be running: follow it.
  const running = executions.data?.items.find((execution) => !terminalStatuses.includes(execution.status));
  useEffect(() => {
    if (!liveId && running) setLiveId(running.id);
  }, [liveId, running]);

  // Opening a session puts the cursor where the person will type next (the view is keyed by
  // session, so this runs once per opened session).
  // biome-ignore lint/correctness/useExhaustiveDependencies: once, when the conversation is loaded
  useEffect(() => {
    if (loaded) {
      inputRef.current?.focus();
      follow.toEnd();
    }
  }, [loaded]);

  const turns = useMemo(
    () => toTurns(messages.data ?? [], executionOfMessages(executions.data?.items ?? [])),
    [messages.data, executions.data],
  );

  const finished = async () => {
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: messagesQueryKey(sessionId) }),
      queryClient.invalidateQueries({ queryKey: sessionExecutionsQueryKey(sessionId) }),
      // The agent's tools may have written files; the first exchange may have titled the session.
      queryClient.invalidateQueries({ queryKey: filesQueryKey }),
      queryClient.invalidateQueries({ queryKey: sessionsQueryKey }),
    ]);
    setLiveId(null);
    setLiveRunning(false);
  };

  const busy = Boolean(liveId) || send.isPending;
  const sendText = (raw: string) => {
    const text = raw.trim();
    if (!text || busy) return;
    send.mutate(text, {
      onSuccess: ({ execution }) => {
        setDraft('');
        // A failure shown before this send is no longer the news.
        cancel.reset();
        setAttachError(null);
        setLiveId(execution.id);
        follow.toEnd();
      },
    });
  };
  const editMessage = (text: string) => {
    setDraft(text);
    inputRef.current?.focus();
  };
  const attach = async (files: File[]) => {
    setAttaching(true);
    setAttachError(null);
    try {
      const stored = await uploadFiles(files, 'uploads', () => {});
      void queryClient.invalidateQueries({ queryKey: filesQueryKey });
      const lines = stored.map((file) => t('chat.attachedLine', { path: file.path }));
      setDraft((old) => [old.trimEnd(), ...lines].filter(Boolean).join('\n'));
      inputRef.current?.focus();
    } catch (error) {
      setAttachError(error);
    } finally {
      setAttaching(false);
    }
  };
  const onRunning = useCallback((isRunning: boolean) => setLiveRunning(isRunning), []);

  if (messages.isPending || (messages.hasNextPage && !messages.isError)) return <LoadingState />;
  if (messages.isError) return <ErrorState error={messages.error} onRetry={() => void messages.refetch()} />;

  const modelMissing = me.data?.platform.modelConfigured === false;
  const live = (key?: string) =>
    liveId ? (
      <LiveTurn key={key} executionId={liveId} onFinished={() => void finished()} onRunning={onRunning} />
    ) : null;

  return (
    <div className="chat">
      <div className="chat-scroll" ref={scrollRef}>
        {turns.length === 0 && !liveId ? (
          <EmptyState title={t('chat.emptyTitle')}>{t('chat.emptyBody')}</EmptyState>
        ) : null}
        {turns.map((turn) =>
          turn.executionId && turn.executionId === liveId ? (
            <article className="turn" key={turn.key}>
              {turn.user ? <UserBubble message={turn.user} /> : null}
              {live()}
            </article>
          ) : (
            <StoredTurn
              key={turn.key}
              turn={turn}
              execution={turn.executionId ? executionsById.get(turn.executionId) : undefined}
              onEdit={editMessage}
              onRegenerate={busy ? undefined : sendText}
            />
          ),
        )}
        {liveId && !turns.some((turn) => turn.executionId === liveId) ? (
          <article className="turn">{live()}</article>
        ) : null}
      </div>
      {!follow.following ? (
        <div className="jump-latest">
          <Button size="sm" onClick={follow.toEnd}>
            {t('chat.jumpToLatest')}
          </Button>
        </div>
      ) : null}
      {modelMissing ? (
        <p className="notice notice-warning" role="note">
          {t('chat.noModel')}
        </p>
      ) : null}
      <Composer
        draft={draft}
        onDraft={setDraft}
        onSend={() => sendText(draft)}
        canSend={Boolean(draft.trim()) && !busy}
        sending={send.isPending}
        running={Boolean(liveId) && liveRunning}
        onStop={() => liveId && cancel.mutate(liveId)}
        stopping={cancel.isPending}
        onAttach={(files) => void attach(files)}
        attaching={attaching}
        inputRef={inputRef}
      />
      {send.error ? <InlineError error={send.error} /> : null}
      {attachError ? <InlineError error={attachError} /> : null}
      {cancel.error && !(cancel.error instanceof ApiError && cancel.error.status === 409) ? (
        <InlineError error={cancel.error} />
      ) : null}
    </div>
  );
}
