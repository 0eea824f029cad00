/**
 * The command-line parsing the export and transcript commands share (functions/cli/param-words.ts):
 * `key=value` words, strict flags, and the usage errors both commands report through it.
 */
import { describe, expect, it } from 'vitest';
import { parseExportArgs } from '../../functions/cli/export-command.ts';
import { parseCommandArgs, parseParamWords } from '../../functions/cli/param-words.ts';
import { parseTranscriptArgs } from '../../functions/cli/transcript-command.ts';
import { QueryUsageError } from '../../functions/query/errors.ts';
import { thrownAs } from '../helpers/assertions.ts';

/** The usage error `run` throws (fails the test when it throws none or another kind). */
const usageError = (run: () => unknown) => thrownAs(QueryUsageError, run);

describe('parseParamWords', () => {
  it('splits at the first =, keeps empty values and = inside values', () => {
    expect(parseParamWords(['a=1', 'b=', 'c=x=y'])).toEqual({ a: '1', b: '', c: 'x=y' });
    expect(parseParamWords([])).toEqual({});
  });

  it.each([['novalue'], ['=1']])('rejects %j, naming --params', (word) => {
    const error = usageError(() => parseParamWords(['a=1', word]));
    expect(error.message).toBe(`--params: expected key=value, got ${JSON.stringify(word)}`);
    expect(error.field).toBe('--params');
  });

  it('rejects a key given twice, naming it', () => {
    const error = usageError(() => parseParamWords(['a=1', 'a=2']));
    expect(error.message).toBe('--params a: given twice');
    expect(error.field).toBe('--params a');
  });

  it('does not treat inherited names as given', () => {
    expect(parseParamWords(['constructor=1', 'toString=2'])).toEqual({ constructor: '1', toString: '2' });
  });
});

describe('parseCommandArgs', () => {
  it('parses flags and positionals', () => {
    const { values, positionals } = parseCommandArgs(['q', '--out', 'x.csv', 'k=v', '--flag'], {
      out: { type: 'string' },
      flag: { type: 'boolean' },
    });
    expect(values).toEqual({ out: 'x.csv', flag: true });
    expect(positionals).toEqual(['q', 'k=v']);
  });

  it('turns an unknown flag into a usage error with the parser error as cause', () => {
    const error = usageError(() => parseCommandArgs(['--nope'], { out: { type: 'string' } }));
    expect(error.message).toContain('--nope');
    expect(error.cause).toBeInstanceOf(Error);
  });
});

describe('export and transcript use the same parameter words', () => {
  const transcript = ['--out', 'chat.html', '--params', 'group_id=g', 'from=2026-01-01'];

  it('takes --params words and loose words after the query alike', () => {
    const args = parseExportArgs([
      'conversation',
      '--params',
      'group_id=g',
      '--params',
      'from=2026-01-01',
      'to=2026-01-02',
      '--out',
      'x.csv',
    ]);
    expect(Object.fromEntries([...args.params].map(([k, v]) => [k, v.value]))).toMatchObject({
      group_id: 'g',
      from: '2026-01-01',
      to: '2026-01-02',
    });
    const t = parseTranscriptArgs([...transcript, 'to=2026-01-02', 'topic_id=t']);
    expect([t.groupId, t.from, t.to, t.topicId]).toEqual(['g', '2026-01-01', '2026-01-02', 't']);
  });

  it.each([
    ['a malformed word', ['oops'], '--params: expected key=value, got "oops"', '--params'],
    ['a key given twice', ['to=2026-01-02', 'to=2026-01-03'], '--params to: given twice', '--params to'],
  ])('both reject %s with the same error', (_what, words, message, field) => {
    const fromExport = usageError(() =>
      parseExportArgs(['conversation', ...transcript.slice(2), ...words, '--out', 'x.csv']),
    );
    const fromTranscript = usageError(() => parseTranscriptArgs([...transcript, ...words]));
    for (const error of [fromExport, fromTranscript]) {
      expect(error.message).toBe(message);
      expect(error.field).toBe(field);
    }
  });

  it('both turn an unknown flag into a usage error', () => {
    expect(usageError(() => parseExportArgs(['conversation', '--nope'])).message).toContain('--nope');
    expect(usageError(() => parseTranscriptArgs([...transcript, '--nope'])).message).toContain('--nope');
  });
});
