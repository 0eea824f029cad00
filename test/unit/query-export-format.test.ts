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
