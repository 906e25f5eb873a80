import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import type { Extension } from '@codemirror/state';
import { oneDarkTheme } from '@codemirror/theme-one-dark';
import { tags as t } from '@lezer/highlight';

/**
 * Token colours of the script editor. CodeMirror's own light style and One Dark each have a few
 * colours under the WCAG AA contrast of 4.5:1 (One Dark's comments, names and keywords; the light
 * style's regular expressions and invalid text): these keep their hues, made darker (light) or
 * lighter (dark) until every one passes on the editor's background and on its active line.
 * editor-theme.test.ts checks each colour against both.
 */
export const lightPalette = {
  meta: '#404740',
  keyword: '#770088',
  atom: '#221199',
  literal: '#116644',
  string: '#aa1111',
  regexp: '#c43500',
  definition: '#0000ff',
  local: '#3300aa',
  type: '#007a4d',
  className: '#116677',
  special: '#225566',
  property: '#0000cc',
  comment: '#994400',
  invalid: '#cc0000',
} as const;

export const darkPalette = {
  chalky: '#e5c07b',
  coral: '#ef8891',
  cyan: '#56b6c2',
  invalid: '#ffffff',
  ivory: '#abb2bf',
  stone: '#9aa3b5',
  malibu: '#61afef',
  sage: '#98c379',
  whiskey: '#d19a66',
  violet: '#d49be8',
} as const;

/** Where the tokens are drawn: the card behind the editor, and the active line over it. */
export const lightBackgrounds = ['#ffffff', '#eef8fc'] as const;
/** One Dark's background, and its active line (#6699ff0b over it, rounded darker). */
export const darkBackgrounds = ['#282c34', '#2a2f3d'] as const;

const l = lightPalette;
const lightStyle = HighlightStyle.define([
  { tag: t.meta, color: l.meta },
  { tag: t.link, textDecoration: 'underline' },
  { tag: t.heading, textDecoration: 'underline', fontWeight: 'bold' },
  { tag: t.emphasis, fontStyle: 'italic' },
  { tag: t.strong, fontWeight: 'bold' },
  { tag: t.strikethrough, textDecoration: 'line-through' },
  { tag: t.keyword, color: l.keyword },
  { tag: [t.atom, t.bool, t.url, t.contentSeparator, t.labelName], color: l.atom },
  { tag: [t.literal, t.inserted], color: l.literal },
  { tag: [t.string, t.deleted], color: l.string },
  { tag: [t.regexp, t.escape, t.special(t.string)], color: l.regexp },
  { tag: t.definition(t.variableName), color: l.definition },
  { tag: t.local(t.variableName), color: l.local },
  { tag: [t.typeName, t.namespace], color: l.type },
  { tag: t.className, color: l.className },
  { tag: [t.special(t.variableName), t.macroName], color: l.special },
  { tag: t.definition(t.propertyName), color: l.property },
  { tag: t.comment, color: l.comment },
  { tag: t.invalid, color: l.invalid },
]);

const d = darkPalette;
const darkStyle = HighlightStyle.define([
  { tag: t.keyword, color: d.violet },
  { tag: [t.name, t.deleted, t.character, t.propertyName, t.macroName], color: d.coral },
  { tag: [t.function(t.variableName), t.labelName], color: d.malibu },
  { tag: [t.color, t.constant(t.name), t.standard(t.name)], color: d.whiskey },
  { tag: [t.definition(t.name), t.separator], color: d.ivory },
  {
    tag: [t.typeName, t.className, t.number, t.changed, t.annotation, t.modifier, t.self, t.namespace],
    color: d.chalky,
  },
  {
    tag: [t.operator, t.operatorKeyword, t.url, t.escape, t.regexp, t.link, t.special(t.string)],
    color: d.cyan,
  },
  { tag: [t.meta, t.comment], color: d.stone },
  { tag: t.strong, fontWeight: 'bold' },
  { tag: t.emphasis, fontStyle: 'italic' },
  { tag: t.strikethrough, textDecoration: 'line-through' },
  { tag: t.link, color: d.stone, textDecoration: 'underline' },
  { tag: t.heading, fontWeight: 'bold', color: d.coral },
  { tag: [t.atom, t.bool, t.special(t.variableName)], color: d.whiskey },
  { tag: [t.processingInstruction, t.string, t.inserted], color: d.sage },
  { tag: t.invalid, color: d.invalid },
]);

/** The editor's look in one theme: One Dark's chrome with the colours above, or the light ones. */
export function editorTheme(dark: boolean): Extension {
  return dark ? [oneDarkTheme, syntaxHighlighting(darkStyle)] : syntaxHighlighting(lightStyle);
}
