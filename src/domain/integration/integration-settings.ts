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
   * Inbound events may attach a provider record to an existing customer by email. Off by
   * default: where the provider takes sign-ups from anyone (a CRM's public forms), a signed event
   * carrying a known customer's email would otherwise take over that customer and overwrite the
   * fields the provider owns. Turn it on for providers whose records only your own staff create.
   */
  matchCustomersByEmail: boolean;
  /**
   * The most worker time this integration's calls in flight may hold at once in one worker
   * process (ms): each call counts what it is expected to take (the integration's recent
   * average, or `timeoutMs` before any call of it has finished in this process), or the time it
   * has run if that is longer. A provider that slows down gets fewer calls in flight, so it loses
   * throughput itself instead of taking worker places from the others (docs/adr/0011). Unset, it
   * is IN_FLIGHT_BUDGET_TIMEOUTS x `timeoutMs`.
   */
  inFlightBudgetMs: number;
  /** This integration's share of a worker's places, against the others' (fair share when places are contended). */
  weight: number;
  /** Seconds between scheduled INCREMENTAL sync runs of every resource the provider offers; 0: none. */
  pollIntervalSeconds: number;
}

/** Settings that are switches rather than numbers. */
const FLAGS = { matchCustomersByEmail: true } as const satisfies Partial<Record<keyof IntegrationSettings, true>>;
type NumericSetting = Exclude<keyof IntegrationSettings, keyof typeof FLAGS>;

const BOUNDS: Record<NumericSetting, { min: number; max: number; integer: boolean }> = {
  timeoutMs: { min: 100, max: 300_000, integer: true },
  maxAttempts: { min: 1, max: 100, integer: true },
  retryBaseDelayMs: { min: 0, max: 3_600_000, integer: true },
  retryMaxDelayMs: { min: 0, max: 86_400_000, integer: true },
  requestsPerSecond: { min: 0.01, max: 10_000, integer: false },
  concurrency: { min: 1, max: 1_000, integer: true },
  inFlightBudgetMs: { min: 100, max: 3_600_000, integer: true },
  weight: { min: 1, max: 100, integer: true },
  pollIntervalSeconds: { min: 0, max: 604_800, integer: true },
};

/**
 * The in-flight budget when none is set, in timeouts: 4 x `timeoutMs`, 40 s at the default 10 s.
 * That is 4 calls of a provider that hangs until its timeout (or of one not yet seen to answer),
 * out of a worker's 20 places by default, and the whole concurrency cap (10) of calls that take
 * up to 4 s; calls that take 5 s get 8. Relative to the timeout, because an operator who gives a
 * provider a long timeout says its calls are long.
 */
export const IN_FLIGHT_BUDGET_TIMEOUTS = 4;

export function defaultSettings(requestsPerSecond: number): IntegrationSettings {
  return {
    timeoutMs: 10_000,
    maxAttempts: 8,
    retryBaseDelayMs: 1_000,
    retryMaxDelayMs: 3_600_000,
    requestsPerSecond,
    concurrency: 10,
    inFlightBudgetMs: IN_FLIGHT_BUDGET_TIMEOUTS * 10_000,
    weight: 1,
    pollIntervalSeconds: 0,
    matchCustomersByEmail: false,
  };
}

/** Validates a settings object: unknown keys and out-of-range values are BAD_USER_INPUT naming the key. */
export function parseSettings(raw: unknown): Partial<IntegrationSettings> {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw badInput('settings', 'settings must be an object');
  const out: Partial<IntegrationSettings> = {};
  for (const [key, value] of Object.entries(raw)) {
    const field = `settings.${key}`;
    if (key in FLAGS) {
      if (typeof value !== 'boolean') throw badInput(field, `${field} must be true or false`);
      out[key as keyof typeof FLAGS] = value;
      continue;
    }
    const bounds = BOUNDS[key as NumericSetting];
    if (!bounds) throw badInput(field, `unknown setting "${key}"; known: ${[...Object.keys(BOUNDS), ...Object.keys(FLAGS)].join(', ')}`);
    if (typeof value !== 'number' || !Number.isFinite(value) || (bounds.integer && !Number.isInteger(value))) {
      throw badInput(field, `${field} must be ${bounds.integer ? 'a whole number' : 'a number'}`);
    }
    if (value < bounds.min || value > bounds.max) throw badInput(field, `${field} must be between ${bounds.min} and ${bounds.max}`);
    out[key as NumericSetting] = value;
  }
  if (out.retryBaseDelayMs !== undefined && out.retryMaxDelayMs !== undefined && out.retryMaxDelayMs < out.retryBaseDelayMs) {
    throw badInput('settings.retryMaxDelayMs', 'settings.retryMaxDelayMs must not be below settings.retryBaseDelayMs');
  }
  return out;
}

export function effectiveSettings(stored: Partial<IntegrationSettings>, providerRps: number): IntegrationSettings {
  const defaults = defaultSettings(providerRps);
  const timeoutMs = stored.timeoutMs ?? defaults.timeoutMs;
  return { ...defaults, inFlightBudgetMs: Math.min(BOUNDS.inFlightBudgetMs.max, IN_FLIGHT_BUDGET_TIMEOUTS * timeoutMs), ...stored };
}
