import { describe, expect, it } from 'vitest';
import { isCoreError } from '../../src/core/errors.ts';
import { NetworkList, parseNetwork } from '../../src/core/auth/networks.ts';

describe('trusted networks', () => {
  const list = new NetworkList(['10.0.0.5', '192.168.1.10-192.168.1.20', '172.16.0.0/12', '2001:db8::/32', 'fe80::1-fe80::ff']);
  const cases: [string, boolean][] = [
    ['10.0.0.5', true],
    ['10.0.0.6', false],
    ['192.168.1.10', true],
    ['192.168.1.20', true],
    ['192.168.1.21', false],
    ['172.31.255.255', true],
    ['172.32.0.0', false],
    ['2001:db8:1::42', true],
    ['2001:db9::1', false],
    ['fe80::80', true],
    ['fe80::100', false],
    ['::ffff:10.0.0.5', true],
    ['not-an-ip', false],
    ['10.0.5', false],
    ['', false],
  ];
  for (const [ip, expected] of cases) it(`${ip || '(empty)'} -> ${expected}`, () => expect(list.contains(ip)).toBe(expected));

  for (const bad of ['10.0.0.0/33', '10.0.0.1-10.0.0.0', '1.2.3', 'abc', '10.0.0.1-2001:db8::1', '::/129', '10.0.0.0/x']) {
    it(`rejects "${bad}" with validation_failed`, () => {
      try {
        parseNetwork(bad);
        expect.unreachable();
      } catch (e) {
        expect(isCoreError(e, 'validation_failed')).toBe(true);
      }
    });
  }
});
