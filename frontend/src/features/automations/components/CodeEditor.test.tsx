import { EditorView } from '@codemirror/view';
import { render, waitFor } from '@testing-library/react';
import { createRef } from 'react';
import { beforeAll, describe, expect, it } from 'vitest';
import CodeEditor, { type CodeEditorHandle } from './CodeEditor';
import { giveRangesRects } from './jsdom-ranges';

const code = 'const ok = 1;\nlet x = ;\nreturn x;\n';

function renderEditor(problem: { line: number; column?: number; message: string } | null) {
  const handle = createRef<CodeEditorHandle>();
  const utils = render(
    <CodeEditor
      value={code}
      onChange={() => {}}
      language="javascript"
      label="Script"
      dark={false}
      problem={problem}
      handle={handle}
    />,
  );
  const content = utils.container.querySelector('.cm-content') as HTMLElement;
  const view = EditorView.findFromDOM(content) as EditorView;
  return { ...utils, handle, view };
}

beforeAll(giveRangesRects);

describe('CodeEditor script errors', () => {
  it('marks the line and column of a script error, and a new run without one clears it', async () => {
    const { container, rerender, handle } = renderEditor({
      line: 2,
      column: 9,
      message: "SyntaxError: Unexpected token ';'",
    });
    await waitFor(() => expect(container.querySelector('.cm-lintRange-error')?.textContent).toBe(';'));
    expect(container.querySelector('.cm-lint-marker-error')).not.toBeNull();

    rerender(
      <CodeEditor
        value={code}
        onChange={() => {}}
        language="javascript"
        label="Script"
        dark={false}
        problem={null}
        handle={handle}
      />,
    );
    await waitFor(() => expect(container.querySelector('.cm-lintRange-error')).toBeNull());
  });

  it('moves the cursor to the error and focuses the editor; places past the text are clamped', () => {
    const { view, handle } = renderEditor({ line: 2, column: 9, message: 'x' });
    handle.current?.goTo(2, 9);
    expect(view.state.selection.main.head).toBe(code.indexOf(';', 14));
    expect(view.hasFocus || document.activeElement === view.contentDOM).toBe(true);
    handle.current?.goTo(99, 99);
    expect(view.state.selection.main.head).toBe(code.length);
  });
});
