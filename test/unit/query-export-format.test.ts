/**
 * Export formats: CSV per RFC 4180 (quoting, CRLF, NULL vs empty) and JSON Lines with integers
 * written digit for digit, plus the Hive type renderings the tables and views rely on.
 */
import { describe, expect, it } from 'vitest';
import {
  csvField,
  csvRecord,
  formatForPath,
  formatTable,
  jsonlRecord,
  renderExport,
} from '../../functions/query/export-format.ts';
import { parseHiveType, toDuckDbType, toPrestoType } from '../../functions/query/hive-types.ts';
import type { QueryResult, ResultColumn } from '../../functions/query/result.ts';

const col = (name: string, kind: ResultColumn['kind']): ResultColumn => ({ name, kind, engineType: kind });

describe('CSV (RFC 4180)', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['line1\nline2', '"line1\nline2"'],
    ['cr\rlf', '"cr\rlf"'],
    ['', '""'],
    [' spaced ', ' spaced '],
    ['收到 👍', '收到 👍'],
  ])('writes %j as %j', (cell, field) => {
    expect(csvField(cell)).toBe(field);
  });

  it('writes NULL as an empty unquoted field, distinct from the empty string', () => {
    expect(csvRecord([null, '', 'x'])).toBe(',"",x\r\n');
  });

  it('streams a header then CRLF-terminated records, de-duplicating column names', async () => {
    const result: QueryResult = {
      columns: [col('n', 'integer'), col('n', 'integer'), col('text', 'string')],
      rows: (async function* () {
        yield ['1', '2', 'a\r\nb'];
      })(),
    };
    let text = '';
    for await (const chunk of renderExport(result, 'csv')) text += chunk;
    expect(text).toBe('n,n_2,text\r\n1,2,"a\r\nb"\r\n');
  });
});

describe('JSON Lines', () => {
  const columns = [col('id', 'integer'), col('ratio', 'number'), col('ok', 'boolean'), col('text', 'string')];

  it('writes integers as JSON numbers digit for digit, even beyond 2^53', () => {
    const line = jsonlRecord(columns, ['9007199254740993', '0.25', 'true', 'x']);
    expect(line).toBe('{"id":9007199254740993,"ratio":0.25,"ok":true,"text":"x"}\n');
    expect(line).not.toContain('9007199254740992');
  });

  it('keeps NULL, escapes strings, and writes non-JSON numbers as strings', () => {
    const line = jsonlRecord(columns, [null, 'NaN', null, 'quote " backslash \\ newline \n\u2028']);
    expect(JSON.parse(line)).toEqual({
      id: null,
      ratio: 'NaN',
      ok: null,
      text: 'quote " backslash \\ newline \n\u2028',
    });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
  });

  it('never writes a malformed number unquoted', () => {
    expect(jsonlRecord([col('n', 'integer')], ['12abc'])).toBe('{"n":"12abc"}\n');
    expect(jsonlRecord([col('n', 'integer')], ['-0012'])).toBe('{"n":"-0012"}\n');
  });
});

describe('formatForPath / formatTable', () => {
  it('picks the format from the extension', () => {
    expect(formatForPath('out/x.CSV')).toBe('csv');
    expect(formatForPath('x.jsonl')).toBe('jsonl');
    expect(formatForPath('x.ndjson')).toBe('jsonl');
    expect(formatForPath('x.json')).toBeUndefined();
  });

  it('aligns text left and numbers right', () => {
    const table = formatTable(
      [col('type', 'string'), col('n', 'integer')],
      [
        ['TIMTextElem', '5'],
        ['TIMFaceElem', '12'],
      ],
    );
    expect(table.split('\n')).toEqual([
      'type          n',
      '-----------  --',
      'TIMTextElem   5',
      'TIMFaceElem  12',
    ]);
  });
});

describe('Hive types', () => {
  const type =
    'array<struct<msg_type:string,msg_content:struct<text:string,index:bigint,info:array<struct<type:int>>>>>';

  it('renders the Presto spelling Athena views use', () => {
    expect(toPrestoType(parseHiveType(type))).toBe(
      'array(row(msg_type varchar, msg_content row(text varchar, index bigint, info array(row(type integer)))))',
    );
    expect(toPrestoType(parseHiveType('map<string,bigint>'))).toBe('map(varchar, bigint)');
  });

  it('renders the DuckDB spelling, optionally reading a mixed-case struct as JSON', () => {
    expect(toDuckDbType(parseHiveType(type), { jsonFields: new Set(['msg_content']) })).toBe(
      'STRUCT("msg_type" VARCHAR, "msg_content" JSON)[]',
    );
    expect(toDuckDbType(parseHiveType('struct<a:boolean,b:map<string,bigint>>'))).toBe(
      'STRUCT("a" BOOLEAN, "b" MAP(VARCHAR, BIGINT))',
    );
  });

  it.each(['array<string', 'struct<a string>', 'varchar', 'array<string>x', ''])('rejects %j', (text) => {
    expect(() => parseHiveType(text)).toThrow(SyntaxError);
  });
});

describe('CSV injection (OWASP)', () => {
  const text = col('text', 'string');
  const num = col('n', 'integer');

  it.each([
    ['=1+1', `"'=1+1"`],
    ['+1', `"'+1"`],
    ['-1+2', `"'-1+2"`],
    ['@SUM(A1)', `"'@SUM(A1)"`],
    ['\tTAB', `"'\tTAB"`],
    ['\rCR', `"'\rCR"`],
    ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
    // Behind leading white space, which spreadsheets may trim.
    [' =lead space', `"' =lead space"`],
    ['\n=1+1', `"'\n=1+1"`],
    ['\n\n  @SUM(A1)', `"'\n\n  @SUM(A1)"`],
    ['\u3000+1', `"'\u3000+1"`],
    ['\u00a0-1+2', `"'\u00a0-1+2"`],
    // Full-width forms, which some IMEs type.
    ['\uff1d1+1', `"'\uff1d1+1"`],
    ['\uff0b1', `"'\uff0b1"`],
    ['\uff0d1+2', `"'\uff0d1+2"`],
    ['\uff20SUM(A1)', `"'\uff20SUM(A1)"`],
    [' \uff1dHYPERLINK("http://x")', `"' \uff1dHYPERLINK(""http://x"")"`],
  ])('neutralises %j as %j', (cell, field) => {
    expect(csvRecord([cell], [text])).toBe(`${field}\r\n`);
    expect(csvRecord([cell], [text], { formulaSafe: false })).toBe(`${csvField(cell)}\r\n`);
  });

  it('leaves other cells, numbers of numeric columns and NULL exactly as RFC 4180 writes them', () => {
    for (const cell of ['plain', 'a=b', ' spaced = text', '\nline', '收到 👍', '', 'x\ny', 'a\uff1db']) {
      expect(csvRecord([cell], [text])).toBe(`${csvField(cell)}\r\n`);
    }
    expect(csvRecord(['-5', '-1.5e3', null], [num, col('d', 'number'), text])).toBe('-5,-1.5e3,\r\n');
    // Tencent's generated ids hold no formula; anything more after the @ is neutralised.
    expect(csvRecord(['@TGS#2C5SZEAEF', '@TGS#_@TGS#cX@TOPIC#_@TOPIC#cA'], [text, text])).toBe(
      '@TGS#2C5SZEAEF,@TGS#_@TGS#cX@TOPIC#_@TOPIC#cA\r\n',
    );
    expect(csvRecord(['@TGS#A+cmd|x'], [text])).toBe(`"'@TGS#A+cmd|x"\r\n`);
    // A numeric column whose text is not a number is neutralised like any string.
    expect(csvRecord(['-1+cmd'], [num])).toBe(`"'-1+cmd"\r\n`);
  });

  it('applies to the header and every row of an export, unless formulaSafe is false', async () => {
    const result = (): QueryResult => ({
      columns: [col('=name', 'string'), col('n', 'integer')],
      rows: (async function* () {
        yield ['@evil', '-3'];
        yield ['ok', '4'];
      })(),
    });
    const render = async (options?: { formulaSafe: boolean }) => {
      let out = '';
      for await (const chunk of renderExport(result(), 'csv', options)) out += chunk;
      return out;
    };
    expect(await render()).toBe(`"'=name",n\r\n"'@evil",-3\r\nok,4\r\n`);
    expect(await render({ formulaSafe: false })).toBe('=name,n\r\n@evil,-3\r\nok,4\r\n');
  });
});
