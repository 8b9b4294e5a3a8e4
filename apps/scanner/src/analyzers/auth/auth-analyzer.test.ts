import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitHeaders } from './auth-analyzer.ts';

describe('splitHeaders', () => {
  it('keeps folded lines with their header and drops the trailing line break', () => {
    const block = 'Received-SPF: pass (x) client-ip=192.0.2.1;\r\nAuthentication-Results: mx.test;\r\n dkim=none;\r\n spf=pass\r\n';
    assert.deepEqual(splitHeaders(block), ['Received-SPF: pass (x) client-ip=192.0.2.1;', 'Authentication-Results: mx.test;\r\n dkim=none;\r\n spf=pass']);
  });
  it('an empty block gives no header', () => assert.deepEqual(splitHeaders('\r\n'), []));
});
