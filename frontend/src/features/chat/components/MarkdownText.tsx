import { lazy, Suspense } from 'react';

const Markdown = lazy(() => import('./Markdown'));

/** Renders markdown once its renderer has loaded; until then the plain text, so nothing jumps. */
export function MarkdownText({ text }: { text: string }) {
  return (
    <div className="markdown">
      <Suspense fallback={<p className="plain-text">{text}</p>}>
        <Markdown text={text} />
      </Suspense>
    </div>
  );
}
