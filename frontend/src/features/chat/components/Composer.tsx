import { type FormEvent, type KeyboardEvent, type RefObject, useId, useRef } from 'react';
import { useTranslation } from 'react-i18next';
import { Button } from '../../../components/ui';

export interface ComposerProps {
  draft: string;
  onDraft: (text: string) => void;
  /** Sends the draft; the composer calls it only when sending is possible. */
  onSend: () => void;
  canSend: boolean;
  sending: boolean;
  /** A turn is running: Stop replaces Send, always in view below the conversation. */
  running: boolean;
  onStop: () => void;
  stopping: boolean;
  onAttach: (files: File[]) => void;
  attaching: boolean;
  inputRef: RefObject<HTMLTextAreaElement | null>;
}

export function Composer(props: ComposerProps) {
  const { t } = useTranslation();
  const composerId = useId();
  const fileInput = useRef<HTMLInputElement>(null);
  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (props.canSend) props.onSend();
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key !== 'Enter' || event.shiftKey || event.nativeEvent.isComposing) return;
    // Enter never types a newline: it sends when it can, and otherwise does nothing.
    event.preventDefault();
    submit();
  };
  return (
    <form className="composer" onSubmit={submit}>
      <label htmlFor={composerId} className="sr-only">
        {t('chat.composerLabel')}
      </label>
      <textarea
        id={composerId}
        ref={props.inputRef}
        className="input composer-input"
        rows={2}
        value={props.draft}
        placeholder={t('chat.composerPlaceholder')}
        onChange={(event) => props.onDraft(event.target.value)}
        onKeyDown={onKeyDown}
        maxLength={100_000}
      />
      <input
        ref={fileInput}
        type="file"
        multiple
        hidden
        aria-hidden="true"
        tabIndex={-1}
        onChange={(event) => {
          const files = Array.from(event.target.files ?? []);
          event.target.value = '';
          if (files.length > 0) props.onAttach(files);
        }}
      />
      <div className="composer-actions">
        <Button
          size="sm"
          variant="ghost"
          busy={props.attaching}
          onClick={() => fileInput.current?.click()}
          aria-label={t('chat.attach')}
          title={t('chat.attach')}
        >
          {/* An inline icon: an emoji paperclip is a blank box where no emoji font is installed. */}
          <svg
            aria-hidden="true"
            width="16"
            height="16"
            viewBox="0 0 24 24"
            fill="none"
            stroke="currentColor"
            strokeWidth="2"
            strokeLinecap="round"
            strokeLinejoin="round"
          >
            <path d="M21.44 11.05l-9.19 9.19a6 6 0 0 1-8.49-8.49l9.19-9.19a4 4 0 0 1 5.66 5.66l-9.2 9.19a2 2 0 0 1-2.83-2.83l8.49-8.48" />
          </svg>
        </Button>
        {props.running ? (
          <Button variant="danger" onClick={props.onStop} busy={props.stopping}>
            {t('chat.stop')}
          </Button>
        ) : (
          <Button type="submit" variant="primary" busy={props.sending} disabled={!props.canSend}>
            {t('chat.send')}
          </Button>
        )}
      </div>
    </form>
  );
}
