import { badInput } from '../shared/errors.js';

/** Per-integration settings; the contract's keys, their bounds and defaults. */
export interface IntegrationSettings {
  timeoutMs: number;
  maxAttempts: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  requestsPerSecond: number;
  concurrency: number;
  /**
   * The most worker time this integration's calls in flight may hold at once in one worker
   * process (ms): each call counts what it is expected to take (the integration's recent
   * average, or `timeoutMs` before any call of it has finished in this process), or the time it
   * has run if that is longer. A provider that slows down gets fewer calls in flight, so it loses
   * throughput itself instead of taking worker places from the others (docs/adr/0011).
   */
  inFlightBudgetMs: number;
  /** This integration's share of a worker's places, against the others' (fair share when places are contended). */
  weight: number;
}

const BOUNDS: Record<keyof IntegrationSettings, { min: number; max: number; integer: boolean }> = {
  timeoutMs: { min: 100, max: 300_000, integer: true },
  maxAttempts: { min: 1, max: 100, integer: true },
  retryBaseDelayMs: { min: 0, max: 3_600_000, integer: true },
  retryMaxDelayMs: { min: 0, max: 86_400_000, integer: true },
  requestsPerSecond: { min: 0.01, max: 10_000, integer: false },
  concurrency: { min: 1, max: 1_000, integer: true },
  inFlightBudgetMs: { min: 100, max: 3_600_000, integer: true },
  weight: { min: 1, max: 100, integer: true },
};

/**
 * The in-flight budget's default: 30 s of worker time at once. At the other defaults that is the
 * whole concurrency cap (10) of calls up to 3 s, and 3 calls of a provider that hangs until the
 * 10 s timeout (or of one not yet seen to answer), out of a worker's 20 places.
 */
export const DEFAULT_IN_FLIGHT_BUDGET_MS = 30_000;

export function defaultSettings(requestsPerSecond: number): IntegrationSettings {
  return {
    timeoutMs: 10_000,
    maxAttempts: 8,
    retryBaseDelayMs: 1_000,
    retryMaxDelayMs: 3_600_000,
    requestsPerSecond,
    concurrency: 10,
    inFlightBudgetMs: DEFAULT_IN_FLIGHT_BUDGET_MS,
    weight: 1,
  };
}

/** Validates a settings object: unknown keys and out-of-range values are BAD_USER_INPUT naming the key. */
export function parseSettings(raw: unknown): Partial<IntegrationSettings> {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badInput('settings', 'settings must be an object');
  const out: Partial<IntegrationSettings> = {};
  for (const [key, value] of Object.entries(raw)) {
    const bounds = BOUNDS[key as keyof IntegrationSettings];
    const field = `settings.${key}`;
    if (!bounds) throw badInput(field, `unknown setting "${key}"; known: ${Object.keys(BOUNDS).join(', ')}`);
    if (typeof value !== 'number' || !Number.isFinite(value) || (bounds.integer && !Number.isInteger(value))) {
      throw badInput(field, `${field} must be ${bounds.integer ? 'a whole number' : 'a number'}`);
    }
    if (value < bounds.min || value > bounds.max) throw badInput(field, `${field} must be between ${bounds.min} and ${bounds.max}`);
    out[key as keyof IntegrationSettings] = value;
  }
  if (out.retryBaseDelayMs !== undefined && out.retryMaxDelayMs !== undefined && out.retryMaxDelayMs < out.retryBaseDelayMs) {
    throw badInput('settings.retryMaxDelayMs', 'settings.retryMaxDelayMs must not be below settings.retryBaseDelayMs');
  }
  return out;
}

export function effectiveSettings(stored: Partial<IntegrationSettings>, providerRps: number): IntegrationSettings {
  return { ...defaultSettings(providerRps), ...stored };
}
