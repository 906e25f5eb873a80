import { lazy, Suspense } from 'react';

const Markdown = lazy(() => import('./Markdown'));

// Emphasis, code, headings, links, lists, quotes, tables, rules: anything the renderer would change.
const markdownSyntax = /[*_`#[\]|~<>]|^\s*([-+]|\d+[.)])\s|^\s*={3,}|https?:\/\//m;

/** Whether `text` needs the markdown renderer; plain prose is shown as it is. */
export function needsMarkdown(text: string): boolean {
  return markdownSyntax.test(text);
}

/**
 * Agent text. The renderer (react-markdown, GFM, highlighting) is its own chunk, loaded only when
 * a message has markdown in it; until it arrives the plain text shows, so nothing jumps.
 */
export function MarkdownText({ text }: { text: string }) {
  if (!needsMarkdown(text))
    return (
      <div className="markdown">
        <p className="plain-text">{text}</p>
      </div>
    );
  return (
    <div className="markdown">
      <Suspense fallback={<p className="plain-text">{text}</p>}>
        <Markdown text={text} />
      </Suspense>
    </div>
  );
}
