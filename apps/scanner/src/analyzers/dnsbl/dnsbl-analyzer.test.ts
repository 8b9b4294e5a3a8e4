import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dnsblAnalyzer, reverseIp } from './dnsbl-analyzer.ts';

describe('reverseIp', () => {
  const rows: [string, string | undefined][] = [
    ['203.0.113.9', '9.113.0.203'],
    ['::ffff:192.0.2.1', '1.2.0.192'],
    ['2001:db8::1', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2'],
    ['not an ip', undefined],
  ];
  for (const [ip, expected] of rows) it(ip, () => assert.equal(reverseIp(ip), expected));
});

describe('dnsblAnalyzer with a stub resolver', () => {
  const answers: Record<string, string[]> = {
    '9.113.0.203.bl.test': ['127.0.0.2', '127.0.0.4'],
    '9.113.0.203.coded.test': ['127.0.0.3'],
    '9.113.0.203.odd.test': ['192.0.2.1'],
  };
  const resolve = async (name: string) => {
    const a = answers[name];
    if (!a) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return a;
  };
  const input = { clientIp: '203.0.113.9', helo: 'h', mailFrom: '', rcptTo: [], spoolFile: '/nonexistent', size: 1 };
  it('scores listings by zone weight and by code; ignores unknown codes, non-127 answers and unlisted zones', async () => {
    const a = dnsblAnalyzer(
      [
        { zone: 'bl.test', weight: 4 },
        { zone: 'coded.test', weight: 1, codes: { '127.0.0.3': { label: 'XBL', weight: 6 } } },
        { zone: 'coded2.test', weight: 1 },
        { zone: 'odd.test', weight: 9 },
      ],
      resolve,
      1000,
    );
    const f = await a.run(input, new AbortController().signal);
    assert.deepEqual(f.extraScores, [
      { id: 'dnsbl.bl.test', score: 4, detail: '127.0.0.2 listed, 127.0.0.4 listed' },
      { id: 'dnsbl.coded.test', score: 6, detail: '127.0.0.3 XBL' },
    ]);
    const onlyOther = dnsblAnalyzer([{ zone: 'bl.test', weight: 4, codes: { '127.0.0.9': { label: 'X' } } }], resolve, 1000);
    assert.deepEqual((await onlyOther.run(input, new AbortController().signal)).extraScores, []);
  });
});
