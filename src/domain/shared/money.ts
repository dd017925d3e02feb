import currencyCodes from 'currency-codes';
import { badInput } from './errors.js';

const exponents = new Map<string, number>();
for (const c of currencyCodes.data) {
  // Fund and precious-metal codes carry no usable minor unit; they are not currencies one invoices in.
  if (typeof c.digits === 'number' && Number.isInteger(c.digits)) exponents.set(c.code, c.digits);
}

/** ISO 4217 minor-unit exponent: JPY 0, USD 2, BHD 3. Throws BAD_USER_INPUT for an unknown code. */
export function currencyExponent(currency: string, field = 'currency'): number {
  const exponent = exponents.get(currency);
  if (exponent === undefined) throw badInput(field, `${field} must be an ISO 4217 currency code, got "${currency}"`);
  return exponent;
}

export function normalizeCurrency(currency: string, field = 'currency'): string {
  const code = currency.trim().toUpperCase();
  currencyExponent(code, field);
  return code;
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * The largest amount the gateway stores, in minor units (10^15: ten trillion dollars). Money
 * columns hold 64-bit integers; with this cap, sums of a whole invoice (250 lines) stay far
 * inside them, so no total overflows.
 */
export const MAX_MINOR_UNITS = 10n ** 15n;

/** Refuses an amount (or a product or sum of amounts) past MAX_MINOR_UNITS, naming the field. */
export function withinMoneyRange(minor: bigint, field: string): bigint {
  if (minor > MAX_MINOR_UNITS || minor < -MAX_MINOR_UNITS) throw badInput(field, `${field} is too large (at most ${MAX_MINOR_UNITS} minor units)`);
  return minor;
}

/** "12.30" in USD -> 1230n. More fractional digits than the currency has is an error, never rounded. */
export function toMinorUnits(amount: string, currency: string, field: string): bigint {
  const match = DECIMAL.exec(amount.trim());
  if (!match) throw badInput(field, `${field} must be a decimal string such as "12.50"`);
  const [, sign, whole, fraction = ''] = match;
  const exponent = currencyExponent(currency);
  const significant = fraction.replace(/0+$/, '');
  if (significant.length > exponent) {
    throw badInput(field, `${field} has more decimal places than ${currency} allows (${exponent})`);
  }
  if (whole.replace(/^0+/, '').length > 20) throw badInput(field, `${field} is too large (at most ${MAX_MINOR_UNITS} minor units)`);
  const minor = BigInt(whole + fraction.padEnd(exponent, '0').slice(0, exponent));
  return withinMoneyRange(sign === '-' ? -minor : minor, field);
}

/** 1230n in USD -> "12.30"; 500n in JPY -> "500"; 1234n in BHD -> "1.234". */
export function fromMinorUnits(minor: bigint | string | number, currency: string): string {
  const value = BigInt(minor);
  const exponent = exponents.get(currency) ?? 2;
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(exponent + 1, '0');
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = exponent > 0 ? `.${digits.slice(digits.length - exponent)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}
