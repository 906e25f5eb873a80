import { useQueryClient } from '@tanstack/react-query';
import { type FormEvent, type KeyboardEvent, useEffect, useId, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import {
  Button,
  EmptyState,
  ErrorState,
  InlineError,
  LoadingState,
  StatusBadge,
} from '../../../components/ui';
import {
  ApiError,
  type Execution,
  type Message,
  type TokenUsage,
  type TranscriptItem,
  terminalStatuses,
  usageOf,
  useExecutionStream,
  useFormat,
} from '../../../lib';
import {
  messagesQueryKey,
  sessionExecutionsQueryKey,
  useCancelExecution,
  useMessages,
  useSendMessage,
  useSessionExecutions,
} from '../api/chat';
import { MarkdownText, preloadMarkdown } from './MarkdownText';
import { ToolCard } from './ToolCard';

interface Turn {
  key: string;
  executionId: string | null;
  user: Message | null;
  replies: Message[];
}

/**
 * Groups the stored messages into turns: a user message and what its execution answered. The
 * user message is stored before its execution exists, so it is matched through the execution's
 * `input.messageId`.
 */
function toTurns(messages: Message[], executionOfMessage: Map<string, string>): Turn[] {
  const turns: Turn[] = [];
  for (const message of messages) {
    const last = turns.at(-1);
    if (message.role === 'user') {
      const executionId = message.executionId ?? executionOfMessage.get(message.id) ?? null;
      turns.push({ key: message.id, executionId, user: message, replies: [] });
    } else if (last && (last.executionId === null || last.executionId === message.executionId)) {
      last.executionId ??= message.executionId;
      last.replies.push(message);
    } else {
      turns.push({ key: message.id, executionId: message.executionId, user: null, replies: [message] });
    }
  }
  return turns;
}

/** Stored reply messages as the same items the live stream produces. */
function storedItems(replies: Message[]): TranscriptItem[] {
  const items: TranscriptItem[] = [];
  const results = new Map<string, { output: unknown; isError: boolean }>();
  for (const message of replies) {
    for (const part of message.parts) {
      if (part.type === 'tool-result')
        results.set(part.toolCallId, { output: part.output, isError: part.isError === true });
    }
  }
  for (const message of replies) {
    for (const part of message.parts) {
      if (part.type === 'text' && part.text) items.push({ kind: 'text', attempt: 0, text: part.text });
      if (part.type === 'tool-call') {
        const result = results.get(part.toolCallId);
        items.push({
          kind: 'tool',
          attempt: 0,
          toolCallId: part.toolCallId,
          toolName: part.toolName,
          input: part.input,
          ...(result ? { output: result.output, isError: result.isError } : {}),
          done: Boolean(result),
        });
      }
    }
  }
  return items;
}

function TranscriptItems({ items }: { items: TranscriptItem[] }) {
  return (
    <>
      {items.map((item, index) => {
        const key = `${item.kind}-${item.attempt}-${index}`;
        if (item.kind === 'text') return <MarkdownText key={key} text={item.text} />;
        if (item.kind === 'tool')
          return (
            <ToolCard
              key={item.toolCallId || key}
              toolName={item.toolName}
              input={item.input}
              output={item.output}
              isError={item.isError}
              done={item.done}
            />
          );
        return null;
      })}
    </>
  );
}

function UsageLine({ usage, durationMs }: { usage: TokenUsage | null; durationMs?: number | null }) {
  const { t } = useTranslation();
  const format = useFormat();
  if (!usage && !durationMs) return null;
  return (
    <p className="usage-line muted">
      {usage
        ? t('chat.usage', {
            input: format.number(usage.inputTokens),
            output: format.number(usage.outputTokens),
          })
        : null}
      {usage && durationMs ? ' · ' : null}
      {durationMs ? format.duration(durationMs) : null}
    </p>
  );
}

function UserBubble({ message }: { message: Message }) {
  const format = useFormat();
  const text = message.parts.map((part) => (part.type === 'text' ? part.text : '')).join('');
  return (
    <div className="bubble-row">
      <div className="bubble">
        <p className="plain-text">{text}</p>
        <time className="bubble-time" dateTime={message.createdAt}>
          {format.dateTime(message.createdAt)}
        </time>
      </div>
    </div>
  );
}

function StoredTurn({ turn, execution }: { turn: Turn; execution: Execution | undefined }) {
  const { t } = useTranslation();
  const items = storedItems(turn.replies);
  return (
    <article className="turn">
      {turn.user ? <UserBubble message={turn.user} /> : null}
      {items.length > 0 || execution ? (
        <div className="reply">
          <TranscriptItems items={items} />
          {execution && execution.status !== 'succeeded' && terminalStatuses.includes(execution.status) ? (
            <p className="turn-status">
              <StatusBadge status={execution.status} />
              {execution.error ? <span className="muted"> {execution.error.message}</span> : null}
            </p>
          ) : null}
          {execution && !terminalStatuses.includes(execution.status) && items.length === 0 ? (
            <p className="muted">{t('chat.waiting')}</p>
          ) : null}
          <UsageLine usage={execution?.usage ?? null} durationMs={execution?.durationMs} />
        </div>
      ) : null}
    </article>
  );
}

function LiveTurn({
  executionId,
  onFinished,
  onStop,
  stopping,
}: {
  executionId: string;
  onFinished: () => void;
  onStop: () => void;
  stopping: boolean;
}) {
  const { t } = useTranslation();
  const { view, connection, error } = useExecutionStream(executionId, onFinished);
  const running = !terminalStatuses.includes(view.status as Execution['status']);
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
          {error.message}
        </p>
      ) : null}
      {!running && view.status !== 'succeeded' ? (
        <p className="turn-status">
          <StatusBadge status={view.status} />
          {view.error ? <span className="muted"> {view.error.message}</span> : null}
        </p>
      ) : null}
      <div className="live-foot">
        <UsageLine usage={usageOf(view)} durationMs={view.durationMs} />
        {running ? (
          <Button size="sm" variant="danger" onClick={onStop} busy={stopping}>
            {t('chat.stop')}
          </Button>
        ) : null}
      </div>
    </div>
  );
}

export function ChatView({ sessionId }: { sessionId: string }) {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const messages = useMessages(sessionId);
  const executions = useSessionExecutions(sessionId);
  const send = useSendMessage(sessionId);
  const cancel = useCancelExecution();
  const [draft, setDraft] = useState('');
  const [liveId, setLiveId] = useState<string | null>(null);
  const composerId = useId();
  const endRef = useRef<HTMLDivElement>(null);

  const executionsById = useMemo(
    () => new Map((executions.data?.items ?? []).map((execution) => [execution.id, execution])),
    [executions.data],
  );

  // After a reload (or in another tab) a turn may still be running: follow it.
  const running = executions.data?.items.find((execution) => !terminalStatuses.includes(execution.status));
  useEffect(() => {
    if (!liveId && running) setLiveId(running.id);
  }, [liveId, running]);

  useEffect(preloadMarkdown, []);

  // Switching sessions stops following the previous one's turn.
  // biome-ignore lint/correctness/useExhaustiveDependencies: reset only when the session changes
  useEffect(() => {
    setLiveId(null);
    setDraft('');
    send.reset();
    cancel.reset();
  }, [sessionId]);

  const turns = useMemo(() => {
    const executionOfMessage = new Map<string, string>();
    for (const execution of executions.data?.items ?? []) {
      if ('messageId' in execution.input) executionOfMessage.set(execution.input.messageId, execution.id);
    }
    return toTurns(messages.data ?? [], executionOfMessage);
  }, [messages.data, executions.data]);
  const liveItemsLength = turns.length;
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll when the conversation grows
  useEffect(() => {
    endRef.current?.scrollIntoView?.({ block: 'end' });
  }, [liveItemsLength, liveId]);

  const finished = async () => {
    await Promise.all([
      queryClient.invalidateQueries({ queryKey: messagesQueryKey(sessionId) }),
      queryClient.invalidateQueries({ queryKey: sessionExecutionsQueryKey(sessionId) }),
      // The agent's tools may have written files.
      queryClient.invalidateQueries({ queryKey: ['files'] }),
    ]);
    setLiveId(null);
  };

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    const text = draft.trim();
    if (!text || liveId || send.isPending) return;
    send.mutate(text, {
      onSuccess: ({ execution }) => {
        setDraft('');
        setLiveId(execution.id);
      },
    });
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) submit();
  };

  if (messages.isPending) return <LoadingState />;
  if (messages.isError) return <ErrorState error={messages.error} onRetry={() => void messages.refetch()} />;

  const sendError =
    send.error instanceof ApiError && send.error.code === 'too_many_executions'
      ? t('chat.tooMany')
      : send.error;

  return (
    <div className="chat">
      <div className="chat-scroll">
        {turns.length === 0 && !liveId ? (
          <EmptyState title={t('chat.emptyTitle')}>{t('chat.emptyBody')}</EmptyState>
        ) : null}
        {turns.map((turn) =>
          turn.executionId && turn.executionId === liveId ? (
            <article className="turn" key={turn.key}>
              {turn.user ? <UserBubble message={turn.user} /> : null}
              <LiveTurn
                executionId={liveId}
                onFinished={() => void finished()}
                onStop={() => cancel.mutate(liveId)}
                stopping={cancel.isPending}
              />
            </article>
          ) : (
            <StoredTurn
              key={turn.key}
              turn={turn}
              execution={turn.executionId ? executionsById.get(turn.executionId) : undefined}
            />
          ),
        )}
        {liveId && !turns.some((turn) => turn.executionId === liveId) ? (
          <article className="turn">
            <LiveTurn
              executionId={liveId}
              onFinished={() => void finished()}
              onStop={() => cancel.mutate(liveId)}
              stopping={cancel.isPending}
            />
          </article>
        ) : null}
        <div ref={endRef} />
      </div>
      <form className="composer" onSubmit={submit}>
        <label htmlFor={composerId} className="sr-only">
          {t('chat.composerLabel')}
        </label>
        <textarea
          id={composerId}
          className="input composer-input"
          rows={2}
          value={draft}
          placeholder={t('chat.composerPlaceholder')}
          onChange={(event) => setDraft(event.target.value)}
          onKeyDown={onKeyDown}
          maxLength={100_000}
        />
        <Button
          type="submit"
          variant="primary"
          busy={send.isPending}
          disabled={!draft.trim() || Boolean(liveId)}
        >
          {t('chat.send')}
        </Button>
      </form>
      {sendError ? (
        <InlineError error={typeof sendError === 'string' ? new Error(sendError) : sendError} />
      ) : null}
      {cancel.error && !(cancel.error instanceof ApiError && cancel.error.status === 409) ? (
        <InlineError error={cancel.error} />
      ) : null}
    </div>
  );
}
