/** Where a Python or shell run failed, read from what the interpreter printed (Python 3.11, dash). */
import { describe, expect, it } from 'vitest';
import { childScriptError } from '../../src/sandbox/runtime/child-errors.mjs';

describe('childScriptError', () => {
  it("gives a Python syntax error's line and column, indentation included", () => {
    const code = 'if True:\n    print("a" +* 2)';
    const stderr =
      '  File "<string>", line 2\n    print("a" +* 2)\n               ^\nSyntaxError: invalid syntax\n';
    expect(childScriptError('python', stderr, code)).toEqual({
      message: 'SyntaxError: invalid syntax',
      line: 2,
      column: 16,
    });
    expect(
      childScriptError(
        'python',
        '  File "<string>", line 1\n    x = (\n        ^\nSyntaxError: \'(\' was never closed\n',
        'x = (',
      ),
    ).toEqual({ message: "SyntaxError: '(' was never closed", line: 1, column: 5 });
  });

  it('gives an indentation error its line', () => {
    const stderr = '  File "<string>", line 2\n    y = 2\nIndentationError: unexpected indent\n';
    expect(childScriptError('python', stderr, 'x = 1\n    y = 2')).toEqual({
      message: 'IndentationError: unexpected indent',
      line: 2,
    });
  });

  it("gives a raised exception the innermost line of the user's code and its whole message", () => {
    const stderr = [
      'Traceback (most recent call last):',
      '  File "<string>", line 3, in <module>',
      '  File "<string>", line 2, in f',
      '  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads',
      '    return _default_decoder.decode(s)',
      'E: bad',
      'thing',
    ].join('\n');
    expect(childScriptError('python', stderr, 'x')).toEqual({ message: 'E: bad\nthing', line: 2 });
  });

  it('reads the last of chained tracebacks', () => {
    const stderr = [
      'Traceback (most recent call last):',
      '  File "<string>", line 2, in <module>',
      'KeyError: 1',
      '',
      'During handling of the above exception, another exception occurred:',
      '',
      'Traceback (most recent call last):',
      '  File "<string>", line 4, in <module>',
      'ValueError: second',
    ].join('\n');
    expect(childScriptError('python', stderr, 'x')).toEqual({ message: 'ValueError: second', line: 4 });
  });

  it("takes no line from an earlier traceback when the last one has none of the user's frames", () => {
    const stderr = [
      'Traceback (most recent call last):',
      '  File "<string>", line 2, in <module>',
      'KeyError: 1',
      '',
      'The above exception was the direct cause of the following exception:',
      '',
      'Traceback (most recent call last):',
      '  File "/usr/lib/python3.11/runpy.py", line 9, in run',
      'RuntimeError: wrapped',
    ].join('\n');
    expect(childScriptError('python', stderr, 'x')).toEqual({ message: 'RuntimeError: wrapped' });
  });

  it('gives nothing for output that is not a traceback', () => {
    expect(childScriptError('python', 'some text the script printed\n', 'x')).toBeUndefined();
    expect(childScriptError('shell', 'grep: no match\n', 'x')).toBeUndefined();
  });

  it("gives dash's diagnostics their line", () => {
    expect(childScriptError('shell', 'sh: 2: Syntax error: "then" unexpected\n', 'x=1\nif then')).toEqual({
      message: 'Syntax error: "then" unexpected',
      line: 2,
    });
  });
});
