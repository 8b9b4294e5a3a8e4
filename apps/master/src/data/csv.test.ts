import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvCell, toCsv } from './csv.ts';

test('csvCell quotes per RFC 4180', () => {
  const cases: [unknown, string][] = [
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\r\nlines', '"two\r\nlines"'],
    ['lf\nonly', '"lf\nonly"'],
    ['', ''],
    [null, ''],
    [undefined, ''],
    [42, '42'],
    [-3.5, '-3.5'],
    [true, 'true'],
    [['a', 'b'], '"[""a"",""b""]"'],
  ];
  for (const [input, expected] of cases) assert.equal(csvCell(input), expected, JSON.stringify(input));
});

test('csvCell neutralises spreadsheet formulas in text', () => {
  const cases: [string, string][] = [
    ['=1+1', "'=1+1"],
    ['+41 22 000', "'+41 22 000"],
    ['-5', "'-5"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\t=cmd', "'\t=cmd"],
    ['\r=cmd', '"\'\r=cmd"'],
    ['=HYPERLINK("http://x.test","click")', '"\'=HYPERLINK(""http://x.test"",""click"")"'],
    ['a=b', 'a=b'],
    ["'already", "'already"],
  ];
  for (const [input, expected] of cases) assert.equal(csvCell(input), expected, JSON.stringify(input));
});

test('toCsv writes a header and CRLF-terminated rows in column order', () => {
  const rows = [{ value: 'x@y.test', count: 3 }, { value: '=evil, "quoted"', count: -1 }];
  assert.equal(toCsv(rows, ['value', 'count']), 'value,count\r\nx@y.test,3\r\n"\'=evil, ""quoted""",-1\r\n');
  assert.equal(toCsv([], ['value']), 'value\r\n');
});
