import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { javascript } from '@codemirror/lang-javascript';
import { python } from '@codemirror/lang-python';
import { bracketMatching, indentOnInput, StreamLanguage } from '@codemirror/language';
import { shell } from '@codemirror/legacy-modes/mode/shell';
import { type Diagnostic, lintGutter, setDiagnostics } from '@codemirror/lint';
import { Compartment, EditorSelection, EditorState, type Extension, type Text } from '@codemirror/state';
import { EditorView, highlightActiveLine, keymap, lineNumbers } from '@codemirror/view';
import { type Ref, useEffect, useImperativeHandle, useRef } from 'react';
import type { ScriptLanguage } from '../../../lib';
import { editorTheme } from './editor-theme';

export interface CodeEditorProps {
  value: string;
  onChange: (value: string) => void;
  language: ScriptLanguage;
  label: string;
  dark: boolean;
  /** Ctrl/Cmd+Enter. */
  onSubmit?: () => void;
  /** A script error at a place in this code (1-based): marked in the text and the gutter. */
  problem?: CodeProblem | null;
  handle?: Ref<CodeEditorHandle>;
}

export interface CodeProblem {
  line: number;
  column?: number;
  message: string;
}

export interface CodeEditorHandle {
  /** Puts the cursor at a line and column (1-based, clamped to the text) and focuses the editor. */
  goTo(line: number, column?: number): void;
}

/** The offset of a 1-based line and column, clamped into the document. */
function offsetOf(doc: Text, line: number, column = 1): number {
  const at = doc.line(Math.min(Math.max(1, Math.floor(line)), doc.lines));
  return at.from + Math.min(Math.max(0, Math.floor(column) - 1), at.length);
}

/** The problem as one lint diagnostic: from its column to the end of the token's line. */
function diagnosticsOf(doc: Text, problem: CodeProblem | null | undefined): Diagnostic[] {
  if (!problem || !Number.isFinite(problem.line)) return [];
  const from = offsetOf(doc, problem.line, problem.column);
  const to = problem.column ? Math.min(doc.lineAt(from).to, from + 1) : doc.lineAt(from).to;
  return [{ from, to, severity: 'error', message: problem.message }];
}

function languageExtension(language: ScriptLanguage): Extension {
  switch (language) {
    case 'typescript':
      return javascript({ typescript: true });
    case 'python':
      return python();
    case 'shell':
      return StreamLanguage.define(shell);
    default:
      return javascript();
  }
}

/** CodeMirror 6, loaded only with the automations view. Tab indents; Escape then Tab leaves. */
export default function CodeEditor({
  value,
  onChange,
  language,
  label,
  dark,
  onSubmit,
  problem,
  handle,
}: CodeEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const languageSlot = useRef(new Compartment());
  const themeSlot = useRef(new Compartment());
  const callbacks = useRef({ onChange, onSubmit });
  callbacks.current = { onChange, onSubmit };

  // biome-ignore lint/correctness/useExhaustiveDependencies: the editor is created once; later props go through compartments
  useEffect(() => {
    if (!host.current) return;
    const editor = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          lineNumbers(),
          lintGutter(),
          history(),
          indentOnInput(),
          bracketMatching(),
          highlightActiveLine(),
          keymap.of([
            {
              key: 'Mod-Enter',
              run: () => {
                callbacks.current.onSubmit?.();
                return true;
              },
            },
            indentWithTab,
            ...defaultKeymap,
            ...historyKeymap,
          ]),
          languageSlot.current.of(languageExtension(language)),
          themeSlot.current.of(editorTheme(dark)),
          // An explicit tab stop: the text is what the keyboard reaches in the scrolling region
          // (CodeMirror's scroller), and assistive technology names it by the label.
          EditorView.contentAttributes.of({ 'aria-label': label, tabindex: '0' }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) callbacks.current.onChange(update.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = editor;
    return () => {
      editor.destroy();
      view.current = null;
    };
  }, []);

  useEffect(() => {
    view.current?.dispatch({ effects: languageSlot.current.reconfigure(languageExtension(language)) });
  }, [language]);
  useEffect(() => {
    view.current?.dispatch({ effects: themeSlot.current.reconfigure(editorTheme(dark)) });
  }, [dark]);
  useEffect(() => {
    const editor = view.current;
    if (editor && editor.state.doc.toString() !== value) {
      editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: value } });
    }
  }, [value]);
  // A new problem replaces the old; edits afterwards move its mark with the text.
  useEffect(() => {
    const editor = view.current;
    if (editor) editor.dispatch(setDiagnostics(editor.state, diagnosticsOf(editor.state.doc, problem)));
  }, [problem]);

  useImperativeHandle(
    handle,
    () => ({
      goTo(line, column) {
        const editor = view.current;
        if (!editor) return;
        const at = offsetOf(editor.state.doc, line, column);
        editor.dispatch({ selection: EditorSelection.cursor(at), scrollIntoView: true });
        editor.focus();
      },
    }),
    [],
  );

  return <div ref={host} className="code-editor" data-testid="code-editor" />;
}
