import type { Element, ElementContent, Root, RootContent } from 'hast';
import bash from 'highlight.js/lib/languages/bash';
import diff from 'highlight.js/lib/languages/diff';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import plaintext from 'highlight.js/lib/languages/plaintext';
import python from 'highlight.js/lib/languages/python';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import { createLowlight } from 'lowlight';

/**
 * The languages agent replies are highlighted in: what the sandboxes run (JavaScript, TypeScript,
 * Python, shell) and what code around them is written in (JSON, YAML, SQL, HTML/XML, diffs,
 * markdown; together 3.9 KB gzip). rehype-highlight bundles highlight.js's 37 "common" grammars
 * whatever it is told to register, so this uses lowlight's core with these alone. Aliases come with
 * each grammar (`js`, `ts`, `py`, `sh`, `console`, `html`, `yml`, `patch`, `md`, `text`, …). CSS
 * is left out: 3.9 KB gzip by itself (its property-name lists) for a language the platform does
 * not run.
 */
const lowlight = createLowlight({
  bash,
  diff,
  javascript,
  json,
  markdown,
  plaintext,
  python,
  shell,
  sql,
  typescript,
  xml,
  yaml,
});

/** The plain text of a syntax tree node (a code block's source, whatever highlighting added). */
export function textOf(node: Root | RootContent | undefined): string {
  if (!node) return '';
  if (node.type === 'text') return node.value;
  return 'children' in node ? node.children.map(textOf).join('') : '';
}

/** The language a fenced block names (`language-x`, `lang-x`); none for `no-highlight`. */
function languageOf(code: Element): string | undefined {
  const classes = code.properties.className;
  if (!Array.isArray(classes)) return undefined;
  let name: string | undefined;
  for (const value of classes.map(String)) {
    if (value === 'no-highlight' || value === 'nohighlight') return undefined;
    name ??= value.startsWith('language-')
      ? value.slice(9)
      : value.startsWith('lang-')
        ? value.slice(5)
        : undefined;
  }
  return name;
}

function highlightBlock(code: Element): void {
  const language = languageOf(code);
  // No guessing for unlabelled blocks: among a dozen grammars a guess on a short snippet or on
  // program output is often wrong, and wrong colours read worse than none.
  if (!language || !lowlight.registered(language)) return;
  const tree = lowlight.highlight(language, textOf(code));
  if (tree.children.length > 0) code.children = tree.children as ElementContent[];
}

function visit(node: Root | Element): void {
  for (const child of node.children) {
    if (child.type !== 'element') continue;
    const code =
      child.tagName === 'pre'
        ? child.children.find((c): c is Element => c.type === 'element' && c.tagName === 'code')
        : undefined;
    if (code) highlightBlock(code);
    else visit(child);
  }
}

/**
 * Rehype plugin: highlights fenced code blocks in a registered language with `hljs-*` classes.
 * A block in any other language, or none, stays plain text.
 */
export function rehypeHighlightCode() {
  return (tree: Root) => visit(tree);
}
