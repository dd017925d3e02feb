import { describe, expect, it } from 'vitest';
import { currencyExponent, fromMinorUnits, toMinorUnits } from '../../src/domain/shared/money.js';
import { DomainError } from '../../src/domain/shared/errors.js';

describe('money in minor units', () => {
  it('uses the ISO 4217 exponent of each currency', () => {
    expect(currencyExponent('JPY')).toBe(0);
    expect(currencyExponent('USD')).toBe(2);
    expect(currencyExponent('BHD')).toBe(3);
  });

  it('converts decimal strings exactly, both ways', () => {
    expect(toMinorUnits('12.30', 'USD', 'x')).toBe(1230n);
    expect(toMinorUnits('12.3', 'USD', 'x')).toBe(1230n);
    expect(toMinorUnits('500', 'JPY', 'x')).toBe(500n);
    expect(toMinorUnits('1.234', 'BHD', 'x')).toBe(1234n);
    // Up to MAX_MINOR_UNITS (10^15 minor units); past it, refused, so no stored sum can overflow.
    expect(toMinorUnits('10000000000000.00', 'USD', 'x')).toBe(10n ** 15n);
    expect(() => toMinorUnits('10000000000000.01', 'USD', 'x')).toThrow(/too large/);
    expect(() => toMinorUnits('99999999999999999999', 'USD', 'x')).toThrow(/too large/);
    expect(fromMinorUnits(1230n, 'USD')).toBe('12.30');
    expect(fromMinorUnits(5n, 'USD')).toBe('0.05');
    expect(fromMinorUnits(500n, 'JPY')).toBe('500');
    expect(fromMinorUnits(1234n, 'BHD')).toBe('1.234');
    expect(fromMinorUnits(-5n, 'USD')).toBe('-0.05');
  });

  it('refuses more decimals than the currency has, instead of rounding', () => {
    expect(() => toMinorUnits('1.5', 'JPY', 'amount')).toThrow(DomainError);
    expect(() => toMinorUnits('1.005', 'USD', 'amount')).toThrow(/more decimal places/);
    expect(toMinorUnits('1.500', 'USD', 'x')).toBe(150n);
  });

  it('refuses unknown currencies and non-decimal text', () => {
    expect(() => currencyExponent('XXY')).toThrow(/ISO 4217/);
    expect(() => toMinorUnits('1e3', 'USD', 'amount')).toThrow(/decimal string/);
    expect(() => toMinorUnits('', 'USD', 'amount')).toThrow(/decimal string/);
  });
});
