import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { I18nextProvider } from 'react-i18next';
import { describe, expect, it } from 'vitest';
import { testI18n } from '../../../testing/render';
import Markdown from './Markdown';

async function renderMarkdown(text: string) {
  const i18n = await testI18n();
  return render(
    <I18nextProvider i18n={i18n}>
      <Markdown text={text} />
    </I18nextProvider>,
  );
}

const codeOf = (container: HTMLElement) => container.querySelector('pre code') as HTMLElement;
const spanText = (code: HTMLElement, className: string) =>
  [...code.querySelectorAll(`span.${className}`)].map((span) => span.textContent);

describe('Markdown code blocks', () => {
  it('highlights a block in a registered language, by its name or an alias', async () => {
    const { container } = await renderMarkdown(
      '```python\ndef greet(name):\n    return "hi " + name  # say it\n```',
    );
    const code = codeOf(container);
    expect(spanText(code, 'hljs-keyword')).toEqual(['def', 'return']);
    expect(spanText(code, 'hljs-string')).toEqual(['"hi "']);
    expect(spanText(code, 'hljs-comment')).toEqual(['# say it']);
    expect(code.textContent).toBe('def greet(name):\n    return "hi " + name  # say it\n');

    const ts = await renderMarkdown('```ts\nconst n: number = 1;\n```');
    expect(spanText(codeOf(ts.container), 'hljs-keyword')).toContain('const');
  });

  it('highlights each of the languages agent replies use', async () => {
    const samples: [string, string, string][] = [
      ['js', 'const a = 1;', 'hljs-keyword'],
      ['typescript', 'interface A {}', 'hljs-keyword'],
      ['sh', 'echo "$HOME"', 'hljs-built_in'],
      ['console', '$ ls -la', 'hljs-meta'],
      ['json', '{"a": 1}', 'hljs-attr'],
      ['yaml', 'key: value', 'hljs-attr'],
      ['sql', 'SELECT 1;', 'hljs-keyword'],
      ['html', '<p class="x">hi</p>', 'hljs-name'],
      ['diff', '-old\n+new', 'hljs-addition'],
      ['md', '# Title', 'hljs-section'],
    ];
    for (const [language, source, className] of samples) {
      const { container, unmount } = await renderMarkdown(`\`\`\`${language}\n${source}\n\`\`\``);
      expect(codeOf(container).querySelector(`span.${className}`), language).not.toBeNull();
      unmount();
    }
  });

  it('shows a block in an unregistered language, or none, as plain text', async () => {
    const source = 'fn main() {\n    println!("hi");\n}';
    const { container } = await renderMarkdown(`\`\`\`rust\n${source}\n\`\`\`\n\n\`\`\`\nSELECT 1;\n\`\`\``);
    const [rust, unlabelled] = [...container.querySelectorAll('pre code')] as HTMLElement[];
    expect(rust?.className).toBe('language-rust');
    expect(rust?.querySelector('span')).toBeNull();
    expect(rust?.textContent).toBe(`${source}\n`);
    // No guessing: an unlabelled block is not coloured as whichever grammar fits best.
    expect(unlabelled?.querySelector('span')).toBeNull();
    expect(unlabelled?.textContent).toBe('SELECT 1;\n');
  });

  it('copies the source of a highlighted block, not its markup', async () => {
    const user = userEvent.setup();
    await renderMarkdown('```js\nconst a = "x";\n```');
    await user.click(screen.getByRole('button', { name: 'Copy code' }));
    expect(await navigator.clipboard.readText()).toBe('const a = "x";');
  });
});
