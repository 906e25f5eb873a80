/**
 * TypeScript for `code.run`: types are stripped in the worker, so the runtime needs no compiler —
 * it stays a few dependency-free files mounted read-only, and cannot spawn esbuild's binary.
 * Errors keep only esbuild's first diagnostic and the user's position; runtime positions map
 * back to the user's lines through the source map.
 */
import { SourceMap } from 'node:module';
import type { ScriptErrorInfo } from './types.js';

export type ToSource = (line: number, column: number) => { line: number; column: number };

export async function stripTypes(
  source: string,
): Promise<{ code: string; toSource: ToSource } | { error: ScriptErrorInfo }> {
  const { transform } = await import('esbuild');
  try {
    const out = await transform(`(async () => {\n${source}\n})()`, {
      loader: 'ts',
      target: 'node20',
      sourcefile: 'script.ts',
      sourcemap: 'external',
    });
    let map: SourceMap | undefined;
    const toSource: ToSource = (line, column) => {
      map ??= new SourceMap(JSON.parse(out.map));
      // Both 1-based; the source map is 0-based and its source starts with the wrapper's line.
      const entry = map.findEntry(line - 1, column - 1) as { originalLine?: number; originalColumn?: number };
      return entry.originalLine === undefined
        ? { line, column }
        : { line: entry.originalLine, column: (entry.originalColumn ?? 0) + 1 };
    };
    return { code: out.code, toSource };
  } catch (error) {
    // esbuild's own message can name files of the host: only the first diagnostic's text and
    // position are kept (the wrapper's first line shifts the user's lines by one).
    const first = (
      error as { errors?: Array<{ text?: string; location?: { line: number; column: number } | null }> }
    ).errors?.[0];
    if (!first?.text) return { error: { message: `TypeScript error: ${(error as Error).message}` } };
    const at = first.location;
    return {
      error: {
        message: `TypeScript error: ${first.text}`,
        ...(at && at.line > 1 ? { line: at.line - 1, column: at.column + 1 } : {}),
      },
    };
  }
}
