/**
 * The error of a failed Python or shell run, read from the tail of its stderr: the message and
 * where in the user's code it happened, as `describeThrown` gives it for JavaScript. Python names
 * the script `<string>` (`python3 -c`), dash names it by its line (`sh: 2: Syntax error: …`).
 */
import type { ScriptErrorInfo } from '../types.js';

const maxMessage = 500;
const pythonFrame = /^ {2}File "(.*)", line (\d+)/;

export function childScriptError(
  language: 'python' | 'shell',
  stderrTail: string,
  code: string,
): ScriptErrorInfo | undefined {
  const lines = stderrTail.trimEnd().split('\n');
  return language === 'python' ? pythonError(lines, code) : shellError(lines);
}

function pythonError(lines: string[], code: string): ScriptErrorInfo | undefined {
  // The last traceback printed is the one that ended the run (chained ones come before it); its
  // innermost frame in the script is where the error happened.
  const lastTraceback = lines.lastIndexOf('Traceback (most recent call last):');
  let lastFrame = -1;
  let userLine: number | undefined;
  lines.forEach((text, index) => {
    const frame = pythonFrame.exec(text);
    if (!frame) return;
    lastFrame = index;
    if (frame[1] === '<string>' && index > lastTraceback) userLine = Number(frame[2]);
  });
  if (lastFrame === -1) return undefined;
  // After the frame: the source line and a caret line (a syntax error), both indented; then the
  // exception, possibly over several lines.
  const header = lines.findIndex((text, index) => index > lastFrame && !/^\s/.test(text));
  if (header === -1) return undefined;
  const message = lines.slice(header).join('\n').trim().slice(0, maxMessage);
  const info: ScriptErrorInfo = { message };
  if (userLine === undefined) return info;
  info.line = userLine;
  // Python shows the source line without its indentation, under four spaces of its own.
  const caretLine = lines.slice(lastFrame + 1, header).find((text) => /^\s*\^/.test(text));
  const source = code.split('\n')[userLine - 1];
  if (caretLine !== undefined && source !== undefined) {
    const indent = source.length - source.trimStart().length;
    const column = indent + caretLine.indexOf('^') - 4 + 1;
    if (column >= 1 && column <= source.length + 1) info.column = column;
  }
  return info;
}

function shellError(lines: string[]): ScriptErrorInfo | undefined {
  for (let index = lines.length - 1; index >= 0; index--) {
    const found = /^(?:\/bin\/)?sh: (\d+): (.+)$/.exec(lines[index] as string);
    if (found) return { message: (found[2] as string).slice(0, maxMessage), line: Number(found[1]) };
  }
  return undefined;
}
