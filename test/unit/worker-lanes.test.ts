import { describe, expect, it } from 'vitest';
import { effectiveSettings, parseSettings } from '../../src/domain/integration/integration-settings.js';
import { Lane, Lanes } from '../../src/jobs/worker-lanes.js';

describe('Lane: the in-flight budget', () => {
  it('before any call has finished, each entry counts its timeout; one at least may run', () => {
    const lane = new Lane();
    expect(lane.room(0, 40_000, 10_000)).toBe(4);
    expect(lane.room(0, 5_000, 10_000)).toBe(1);
    lane.entries.set('a', 0);
    expect(lane.room(0, 40_000, 10_000)).toBe(3);
    expect(lane.room(0, 5_000, 10_000)).toBe(0);
  });

  it('once calls have finished, each counts the expected duration, so a slower provider gets fewer calls in flight', () => {
    const lane = new Lane();
    lane.observe(100);
    expect(lane.room(0, 40_000, 10_000)).toBe(400);
    for (let i = 0; i < 20; i++) lane.observe(5_000);
    expect(lane.expectedMs).toBeGreaterThan(4_900);
    expect(lane.room(0, 40_000, 10_000)).toBe(8);
  });

  it('a call running longer than expected counts its real time: a provider that starts hanging gets no more calls', () => {
    const lane = new Lane();
    lane.observe(100);
    lane.entries.set('a', 0);
    lane.entries.set('b', 0);
    expect(lane.charge(50, 10_000)).toBe(200);
    expect(lane.room(50, 1_000, 10_000)).toBe(8);
    // 600 ms later both still run: they hold 1.2 s, over the budget.
    expect(lane.charge(600, 10_000)).toBe(1_200);
    expect(lane.room(600, 1_000, 10_000)).toBe(0);
  });
});

describe('Lanes: share of the worker time', () => {
  it('each integration’s place time over the window, against the places x the window', () => {
    let now = 0;
    const lanes = new Lanes(() => now);
    lanes.sample();
    lanes.hold('a', 'e1');
    lanes.place('a', 'e1');
    lanes.hold('b', 'e2');
    lanes.place('b', 'e2');
    now = 1_000;
    expect(lanes.release('b', 'e2')).toBe(1_000);
    now = 2_000;
    lanes.sample();
    // 4 places over 2 s: a held one for 2 s (a quarter), b one for 1 s (an eighth).
    const shares = lanes.shares(4);
    expect(shares.get('a')).toBeCloseTo(0.25);
    expect(shares.get('b')).toBeCloseTo(0.125);
    expect(lanes.get('a').running).toBe(1);
    expect(lanes.get('b').entries.size).toBe(0);
  });
});

describe('settings: inFlightBudgetMs and weight', () => {
  it('are validated like the other keys, and the budget defaults to four timeouts', () => {
    expect(parseSettings({ inFlightBudgetMs: 20_000, weight: 3 })).toEqual({ inFlightBudgetMs: 20_000, weight: 3 });
    expect(() => parseSettings({ inFlightBudgetMs: 50 })).toThrow(/settings.inFlightBudgetMs must be between 100 and 3600000/);
    expect(() => parseSettings({ weight: 0 })).toThrow(/settings.weight must be between 1 and 100/);
    expect(() => parseSettings({ weight: 1.5 })).toThrow(/whole number/);
    expect(effectiveSettings({}, 25)).toMatchObject({ inFlightBudgetMs: 40_000, weight: 1 });
    expect(effectiveSettings({ timeoutMs: 2_000 }, 25).inFlightBudgetMs).toBe(8_000);
    expect(effectiveSettings({ timeoutMs: 2_000, inFlightBudgetMs: 500 }, 25).inFlightBudgetMs).toBe(500);
  });
});
