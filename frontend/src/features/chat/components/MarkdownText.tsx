import { lazy, Suspense } from 'react';

const loadMarkdown = () => import('./Markdown');
const Markdown = lazy(loadMarkdown);

/** Starts loading the renderer while the conversation is still being fetched, not after it. */
export function preloadMarkdown(): void {
  void loadMarkdown();
}

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
