/**
 * What canonical data a caller may see: every customer, or only the granted ones (a PARTNER key).
 * Domain services take it so that every path (lists, by id, nested) applies the same rule.
 */
export interface AccessScope {
  customerIds: readonly string[] | null;
}

export const UNRESTRICTED: AccessScope = { customerIds: null };

export function canSeeCustomer(scope: AccessScope, customerId: string): boolean {
  return scope.customerIds === null || scope.customerIds.includes(customerId);
}
