import type { Element } from 'hast';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import ReactMarkdown from 'react-markdown';
import remarkGfm from 'remark-gfm';
import { CopyButton } from '../../../components/ui';
import { rehypeHighlightCode, textOf } from './highlight';

function CodeBlock({ node, children }: { node?: Element; children?: ReactNode }) {
  const { t } = useTranslation();
  return (
    <div className="code-wrap">
      {/* Focusable, so a block wider or taller than the page scrolls from the keyboard too. */}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard */}
      <pre tabIndex={0}>{children}</pre>
      <div className="code-copy">
        <CopyButton text={textOf(node).replace(/\n$/, '')} label={t('chat.copyCode')} />
      </div>
    </div>
  );
}

/**
 * Agent text as GitHub-flavoured markdown (tables, task lists, strikethrough, autolinks). Raw HTML
 * in the text is not rendered (react-markdown's default) and link targets pass its URL filter, so
 * model output cannot inject markup or `javascript:` links.
 */
export default function Markdown({ text }: { text: string }) {
  return (
    <ReactMarkdown
      remarkPlugins={[remarkGfm]}
      rehypePlugins={[rehypeHighlightCode]}
      components={{
        a: ({ node: _node, ...props }) => <a {...props} target="_blank" rel="noopener noreferrer" />,
        pre: ({ node, children }) => <CodeBlock node={node}>{children}</CodeBlock>,
        table: ({ node: _node, ...props }) => (
          // biome-ignore lint/a11y/noNoninteractiveTabindex: a wide table scrolls; the keyboard must reach it
          <div className="table-scroll" tabIndex={0}>
            <table {...props} />
          </div>
        ),
      }}
    >
      {text}
    </ReactMarkdown>
  );
}
