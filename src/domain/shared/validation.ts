import { isEmail } from 'class-validator';
import { badInput } from './errors.js';

export function requiredText(value: string | null | undefined, field: string, max = 500): string {
  const text = value?.trim() ?? '';
  if (text.length === 0) throw badInput(field, `${field} must not be empty`);
  if (text.length > max) throw badInput(field, `${field} must be at most ${max} characters`);
  return text;
}

export function optionalText(value: string | null | undefined, field: string, max = 500): string | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (text.length > max) throw badInput(field, `${field} must be at most ${max} characters`);
  return text.length ? text : null;
}

export function optionalEmail(value: string | null | undefined, field = 'email'): string | null {
  const email = optionalText(value, field, 254);
  if (email !== null && !isEmail(email)) throw badInput(field, `${field} is not a valid email address`);
  return email;
}

export function optionalPhone(value: string | null | undefined, field = 'phone'): string | null {
  const phone = optionalText(value, field, 40);
  if (phone !== null && !/^\+?[0-9 ().-]{3,40}$/.test(phone)) {
    throw badInput(field, `${field} may hold digits, spaces, parentheses, dots, dashes and a leading +`);
  }
  return phone;
}

export function validDate(value: Date | null | undefined, field: string): Date | null {
  if (value === null || value === undefined) return null;
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw badInput(field, `${field} is not a valid date`);
  return value;
}

/** Postgres unique-violation on the named constraint or index. */
export function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint?: string; driverError?: { code?: string; constraint?: string } };
  const code = e.driverError?.code ?? e.code;
  const name = e.driverError?.constraint ?? e.constraint;
  return code === '23505' && name === constraint;
}
