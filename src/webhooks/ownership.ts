import { z } from 'zod';
import { Provider } from '../domain/integration/integration.entity.js';

/** Canonical fields an inbound event may change. */
export const OWNED_FIELDS = [
  'customer.name', 'customer.email', 'customer.phone', 'customer.taxId', 'customer.currency',
  'invoice.status', 'invoice.amountPaid', 'invoice.paidAt', 'invoice.dueAt',
  'contract.title', 'contract.status', 'contract.value', 'contract.endDate',
] as const;
export type OwnedField = (typeof OWNED_FIELDS)[number];

/** Who may change a field from outside: a provider, or GATEWAY (only the API changes it). */
export type Owner = Provider | 'GATEWAY';

export type Ownership = Record<OwnedField, Owner>;

/**
 * Defaults: the payment provider owns invoice status, amount paid and paid time; the CRM owns
 * the contact's name and phone; the gateway owns the rest.
 */
export const DEFAULT_OWNERSHIP: Ownership = Object.fromEntries(OWNED_FIELDS.map((f) => [f, 'GATEWAY'])) as Ownership;
Object.assign(DEFAULT_OWNERSHIP, {
  'invoice.status': Provider.STRIPE,
  'invoice.amountPaid': Provider.STRIPE,
  'invoice.paidAt': Provider.STRIPE,
  'customer.name': Provider.HUBSPOT,
  'customer.phone': Provider.HUBSPOT,
} satisfies Partial<Ownership>);

/** FIELD_OWNERSHIP: a JSON object of overrides, e.g. {"contract.status":"HUBSPOT","customer.name":"GATEWAY"}. */
export const ownershipOverrides = z
  .string()
  .transform((v, ctx) => {
    try {
      return JSON.parse(v) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected a JSON object such as {"contract.status":"HUBSPOT"}' });
      return z.NEVER;
    }
  })
  .pipe(
    z.partialRecord(z.enum(OWNED_FIELDS, { message: `expected field names among ${OWNED_FIELDS.join(', ')}` }), z.enum(['STRIPE', 'HUBSPOT', 'SENDGRID', 'GENERIC', 'SALESFORCE', 'GATEWAY'], {
      message: 'expected an owner: STRIPE, HUBSPOT, SENDGRID, GENERIC, SALESFORCE or GATEWAY',
    })),
  );

export function ownership(overrides: Partial<Record<OwnedField, string>> = {}): Ownership {
  return { ...DEFAULT_OWNERSHIP, ...(overrides as Partial<Ownership>) };
}
