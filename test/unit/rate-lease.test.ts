import { describe, expect, it } from 'vitest';
import { LEASE_SLACK_MS, LEASE_SPAN_MS, RateLease } from '../../src/jobs/rate-lease.js';

/**
 * The shared schedule as RESERVE_SQL keeps it (one theoretical arrival time for the integration),
 * on a clock the test moves by hand; `reservations` counts the statements it stands for.
 */
function schedule(intervalMs: number) {
  const clock = { now: 1_000 };
  let tat = 0;
  const state = { reservations: 0 };
  const reserve = async (n: number) => {
    state.reservations++;
    tat = Math.max(tat, clock.now) + n * intervalMs;
    return tat - clock.now - n * intervalMs;
  };
  const lease = () => new RateLease(intervalMs, reserve, () => clock.now);
  return { clock, state, lease };
}

describe('RateLease', () => {
  it('gives every request its own instant of the shared schedule, across processes', async () => {
    const interval = 10;
    const { clock, lease } = schedule(interval);
    const a = lease();
    const b = lease();
    const sends: number[] = [];
    for (let step = 0; step < 200; step++) {
      clock.now += 3;
      const [wa, wb] = await Promise.all([a.take(), b.take()]);
      sends.push(clock.now + wa, clock.now + wb);
    }
    sends.sort((x, y) => x - y);
    for (let i = 1; i < sends.length; i++) expect(sends[i] - sends[i - 1]).toBeGreaterThanOrEqual(interval - 1e-9);
  });

  it('reserves in blocks while busy: far fewer statements than requests', async () => {
    const { clock, state, lease } = schedule(0.1);
    const l = lease();
    for (let i = 0; i < 2_000; i++) {
      clock.now += 0.5;
      await l.take();
    }
    // One reservation per request would be 2,000; a block covers about LEASE_SPAN_MS of demand.
    expect(state.reservations).toBeLessThan(2_000 / 20);
  });

  it('reserves one instant per request when the limit binds', async () => {
    const { clock, state, lease } = schedule(LEASE_SPAN_MS * 2);
    const l = lease();
    for (let i = 0; i < 10; i++) {
      clock.now += 1;
      await l.take();
    }
    expect(state.reservations).toBe(10);
  });

  it('drops instants that went stale and never sends earlier than its instant', async () => {
    // Demand at half the rate: each block holds about LEASE_SPAN_MS of instants ahead.
    const { clock, state, lease } = schedule(1);
    const l = lease();
    for (let i = 0; i < 100; i++) {
      clock.now += 2;
      const wait = await l.take();
      expect(wait).toBeGreaterThanOrEqual(0);
    }
    const before = state.reservations;
    clock.now += LEASE_SPAN_MS + LEASE_SLACK_MS;
    await l.take();
    expect(state.reservations).toBe(before + 1);
  });

  it('keeps two busy processes within the rate in every one-second window', async () => {
    const rate = 50;
    const interval = 1000 / rate;
    const { clock, lease } = schedule(interval);
    const procs = [lease(), lease()];
    const sends: number[] = [];
    // Each process asks far more often than the rate allows, for five simulated seconds.
    while (clock.now < 6_000) {
      clock.now += 1 + Math.random() * 4;
      const waits = await Promise.all(procs.map((p) => p.take()));
      for (const w of waits) sends.push(clock.now + w);
    }
    sends.sort((x, y) => x - y);
    let most = 0;
    for (let i = 0, j = 0; i < sends.length; i++) {
      while (sends[i] - sends[j] >= 1000) j++;
      most = Math.max(most, i - j + 1);
    }
    expect(most).toBeLessThanOrEqual(rate + Math.ceil(LEASE_SLACK_MS / interval));
  });
});
