import ReactMarkdown from 'react-markdown';
import rehypeHighlight from 'rehype-highlight';

/**
 * Agent text as markdown. Raw HTML in the text is not rendered (react-markdown's default) and
 * link targets pass its URL filter, so model output cannot inject markup or `javascript:` links.
 */
export default function Markdown({ text }: { text: string }) {
  return (
    <ReactMarkdown
      rehypePlugins={[[rehypeHighlight, { detect: false, ignoreMissing: true }]]}
      components={{
        a: ({ node: _node, ...props }) => <a {...props} target="_blank" rel="noopener noreferrer" />,
      }}
    >
      {text}
    </ReactMarkdown>
  );
}
