import { useTranslation } from 'react-i18next';
import { Button, CopyButton, StatusBadge } from '../../../components/ui';
import {
  type Execution,
  type Message,
  type TokenUsage,
  type TranscriptItem,
  terminalStatuses,
  useFormat,
  useServerText,
} from '../../../lib';
import { MarkdownText } from './MarkdownText';
import { ToolCard } from './ToolCard';
import { messageText, replyText, storedItems, type Turn } from './turns';

export function TranscriptItems({ items }: { items: TranscriptItem[] }) {
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

export function UsageLine({ usage, durationMs }: { usage: TokenUsage | null; durationMs?: number | null }) {
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

/** A finished turn's failure: its status and, in the reader's language, why. */
export function TurnFailure({ status, error }: { status: string; error: Execution['error'] }) {
  const text = useServerText();
  return (
    <p className="turn-status">
      <StatusBadge status={status} />
      {error ? <span className="muted"> {text.error(error)}</span> : null}
    </p>
  );
}

export function UserBubble({ message, onEdit }: { message: Message; onEdit?: (text: string) => void }) {
  const { t } = useTranslation();
  const format = useFormat();
  const text = messageText(message);
  return (
    <div className="bubble-row">
      <div className="bubble-actions">
        <CopyButton text={text} label={t('chat.copyMessage')} />
        {onEdit ? (
          <Button size="sm" variant="ghost" onClick={() => onEdit(text)}>
            {t('chat.edit')}
          </Button>
        ) : null}
      </div>
      <div className="bubble">
        <p className="plain-text">{text}</p>
        <time className="bubble-time" dateTime={message.createdAt}>
          {format.dateTime(message.createdAt)}
        </time>
      </div>
    </div>
  );
}

export function StoredTurn({
  turn,
  execution,
  onEdit,
  onRegenerate,
}: {
  turn: Turn;
  execution: Execution | undefined;
  onEdit?: (text: string) => void;
  onRegenerate?: (text: string) => void;
}) {
  const { t } = useTranslation();
  const items = storedItems(turn.replies);
  const finished = !execution || terminalStatuses.includes(execution.status);
  const copyText = replyText(items);
  const userText = turn.user ? messageText(turn.user) : '';
  return (
    <article className="turn">
      {turn.user ? <UserBubble message={turn.user} onEdit={onEdit} /> : null}
      {items.length > 0 || execution ? (
        <div className="reply">
          <TranscriptItems items={items} />
          {execution && execution.status !== 'succeeded' && finished ? (
            <TurnFailure status={execution.status} error={execution.error} />
          ) : null}
          {execution && !finished && items.length === 0 ? <p className="muted">{t('chat.waiting')}</p> : null}
          <div className="reply-foot">
            <UsageLine usage={execution?.usage ?? null} durationMs={execution?.durationMs} />
            {finished ? (
              <div className="reply-actions">
                {copyText ? <CopyButton text={copyText} label={t('chat.copyReply')} /> : null}
                {onRegenerate && userText ? (
                  <Button size="sm" variant="ghost" onClick={() => onRegenerate(userText)}>
                    {execution?.status === 'succeeded' ? t('chat.regenerate') : t('chat.retry')}
                  </Button>
                ) : null}
              </div>
            ) : null}
          </div>
        </div>
      ) : null}
    </article>
  );
}
