import { describe, expect, it } from 'vitest';
import { packed } from '../../src/pubsub/event-relay.js';

const envelope = (n: number, bytes: number) => JSON.stringify({ i: `e${n}`, t: 'log.added', d: { pad: 'x'.repeat(bytes) } });

describe('packed (NOTIFY payloads of the event relay)', () => {
  it('packs envelopes in order into JSON arrays that each stay under the NOTIFY limit', () => {
    const envelopes = Array.from({ length: 50 }, (_, n) => envelope(n, 300 + (n % 7) * 100));
    const payloads = packed(envelopes);
    expect(payloads.length).toBeGreaterThan(1);
    expect(payloads.length).toBeLessThan(10);
    for (const p of payloads) expect(Buffer.byteLength(p)).toBeLessThan(8_000);
    // Every envelope once, in the order published.
    expect(payloads.flatMap((p) => (JSON.parse(p) as Array<{ i: string }>).map((e) => e.i))).toEqual(envelopes.map((_, n) => `e${n}`));
  });

  it('sends an envelope at the size limit alone, and nothing for nothing', () => {
    const big = envelope(1, 7_850);
    const payloads = packed([envelope(0, 10), big, envelope(2, 10)]);
    expect(payloads).toHaveLength(3);
    expect(JSON.parse(payloads[1])).toEqual([JSON.parse(big)]);
    expect(packed([])).toEqual([]);
  });
});
