import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SlotGate, type SlotWake } from '../../src/jobs/slot-gate.js';

describe('SlotGate', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const track = (gate: SlotGate, ms = 10_000) => {
    const woken: SlotWake[] = [];
    void gate.wait(ms).then((why) => woken.push(why));
    return woken;
  };

  it('a freed slot wakes the first waiter, in the order they came', async () => {
    const gate = new SlotGate(100);
    const [a, b, c] = [track(gate), track(gate), track(gate)];
    gate.freed(2);
    await vi.advanceTimersByTimeAsync(0);
    expect([a, b, c]).toEqual([['freed'], ['freed'], []]);
    expect(gate.waiting).toBe(1);
  });

  it('only the first waiter polls; a nudge passes the turn on', async () => {
    const gate = new SlotGate(100);
    const [a, b, c] = [track(gate), track(gate), track(gate)];
    await vi.advanceTimersByTimeAsync(100);
    expect([a, b, c]).toEqual([['poll'], [], []]);
    gate.nudge();
    await vi.advanceTimersByTimeAsync(0);
    expect([a, b, c]).toEqual([['poll'], ['poll'], []]);
    // The last one polls on its own turn, one poll interval later.
    await vi.advanceTimersByTimeAsync(100);
    expect(c).toEqual(['poll']);
    expect(gate.waiting).toBe(0);
  });

  it('a waiter gives up at its deadline and leaves the line', async () => {
    const gate = new SlotGate(1_000);
    const a = track(gate, 50);
    const b = track(gate, 5_000);
    await vi.advanceTimersByTimeAsync(50);
    expect(a).toEqual(['deadline']);
    expect(gate.waiting).toBe(1);
    gate.freed(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(b).toEqual(['freed']);
  });
});
