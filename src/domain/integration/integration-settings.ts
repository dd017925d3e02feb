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
};

export function defaultSettings(requestsPerSecond: number): IntegrationSettings {
  return { timeoutMs: 10_000, maxAttempts: 8, retryBaseDelayMs: 1_000, retryMaxDelayMs: 3_600_000, requestsPerSecond, concurrency: 10, matchCustomersByEmail: false };
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
  return { ...defaultSettings(providerRps), ...stored };
}
