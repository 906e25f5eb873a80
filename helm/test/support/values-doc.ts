import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { chartDir } from './helm.js';

/**
 * The README's value table, generated from the `# --` comments of values.yaml (the convention of
 * helm-docs and traefik-helm-chart): a comment `# -- text` documents the key on the next line.
 */
export interface ValueDoc {
  key: string;
  type: string;
  default: string;
  description: string;
}

export const valuesPath = resolve(chartDir, 'values.yaml');
export const readmePath = resolve(chartDir, 'README.md');
const start = '<!-- values:start (generated from values.yaml: npx tsx scripts/chart-values-table.ts) -->';
const end = '<!-- values:end -->';

const keyLine = /^(\s*)([A-Za-z0-9_.-]+):(?:\s|$)/;
const docLine = /^(\s*)# -- (.*)$/;
const hintLine = /^\s*# @schema enum: \[(.*)\]$/;

/** `# @schema enum: [...]` hints of values.yaml by key path, to be compared with values.schema.json. */
export function schemaEnumHints(text = readFileSync(valuesPath, 'utf8')): Map<string, string[]> {
  const hints = new Map<string, string[]>();
  const stack: { indent: number; key: string }[] = [];
  let pending: string[] | undefined;
  for (const line of text.split('\n')) {
    const hint = hintLine.exec(line);
    if (hint) {
      pending = (hint[1] ?? '').split(',').map((v) => v.trim().replace(/^"(.*)"$/, '$1'));
      continue;
    }
    const key = keyLine.exec(line);
    if (!key) continue;
    const indent = key[1]?.length ?? 0;
    while (stack.length > 0 && (stack.at(-1)?.indent ?? 0) >= indent) stack.pop();
    stack.push({ indent, key: key[2] ?? '' });
    if (pending) hints.set(stack.map((s) => s.key).join('.'), pending);
    pending = undefined;
  }
  return hints;
}

/** Documented keys of values.yaml, in file order. */
export function documentedValues(text = readFileSync(valuesPath, 'utf8')): ValueDoc[] {
  const values = parse(text) as Record<string, unknown>;
  const stack: { indent: number; key: string }[] = [];
  const docs: ValueDoc[] = [];
  let pending: { indent: number; description: string } | undefined;
  for (const line of text.split('\n')) {
    const doc = docLine.exec(line);
    if (doc) {
      pending = { indent: doc[1]?.length ?? 0, description: doc[2] ?? '' };
      continue;
    }
    const key = keyLine.exec(line);
    if (!key) continue;
    const indent = key[1]?.length ?? 0;
    while (stack.length > 0 && (stack.at(-1)?.indent ?? 0) >= indent) stack.pop();
    stack.push({ indent, key: key[2] ?? '' });
    if (pending && pending.indent === indent) {
      const path = stack.map((s) => s.key);
      const value = lookup(values, path);
      docs.push({
        key: path.join('.'),
        type: typeOf(value),
        default: JSON.stringify(value),
        description: pending.description,
      });
    }
    pending = undefined;
  }
  // a section whose keys have their own rows shows no default of its own
  return docs.map((d) =>
    docs.some((other) => other.key.startsWith(`${d.key}.`)) ? { ...d, default: '' } : d,
  );
}

/** Leaf keys (scalars, lists, empty maps) that neither they nor an ancestor document. */
export function undocumentedValues(text = readFileSync(valuesPath, 'utf8')): string[] {
  const documented = new Set(documentedValues(text).map((d) => d.key));
  const missing: string[] = [];
  const walk = (value: unknown, path: string[]) => {
    const isMap = value !== null && typeof value === 'object' && !Array.isArray(value);
    const entries = isMap ? Object.entries(value as Record<string, unknown>) : [];
    if (entries.length === 0) {
      const covered = path.some((_, i) => documented.has(path.slice(0, i + 1).join('.')));
      if (!covered) missing.push(path.join('.'));
      return;
    }
    for (const [k, v] of entries) walk(v, [...path, k]);
  };
  for (const [k, v] of Object.entries(parse(text) as Record<string, unknown>)) walk(v, [k]);
  return missing;
}

function lookup(values: Record<string, unknown>, path: string[]): unknown {
  let current: unknown = values;
  for (const key of path) current = (current as Record<string, unknown> | undefined)?.[key];
  return current;
}

function typeOf(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  if (typeof value === 'object') return 'object';
  return typeof value;
}

const cell = (text: string) => text.replaceAll('|', '\\|');

export function valuesTable(text?: string): string {
  const rows = documentedValues(text).map(
    (d) =>
      `| \`${d.key}\` | ${d.type} | ${d.default ? `\`${cell(d.default)}\`` : 'see below'} | ${cell(d.description)} |`,
  );
  return ['| Key | Type | Default | Description |', '|---|---|---|---|', ...rows].join('\n');
}

/** The table as it stands in the README, or undefined when the markers are missing. */
export function readmeTable(readme = readFileSync(readmePath, 'utf8')): string | undefined {
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) return undefined;
  return readme.slice(from + start.length, to).trim();
}

export function writeReadmeTable(): void {
  const readme = readFileSync(readmePath, 'utf8');
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md lacks the markers ${start} … ${end}`);
  writeFileSync(readmePath, `${readme.slice(0, from + start.length)}\n${valuesTable()}\n${readme.slice(to)}`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.dirname ?? '', 'values-doc.ts')) {
  writeReadmeTable();
  console.log(`updated ${readmePath}`);
}
