import { In, type DataSource } from 'typeorm';
import type { AfterWrite } from '../shared/after-write.js';
import { canSeeCustomer, type AccessScope } from '../shared/access.js';
import { conflict, DomainError, ErrorCode, forbidden, notFound } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { normalizeCurrency } from '../shared/money.js';
import { paginate, type Connection, type PageArgs } from '../shared/pagination.js';
import { isUniqueViolation, optionalEmail, optionalPhone, optionalText, requiredText } from '../shared/validation.js';
import { Customer } from './customer.entity.js';
import { recordAudit } from '../../observability/audit.js';
import { ChangeSource, changedFields, markOrigins } from '../shared/field-origins.js';

/** Customer fields the audit trail keeps; all but currency are personal, so stored masked. */
const audited = (c: Customer) => ({ name: c.name, email: c.email, phone: c.phone, taxId: c.taxId, currency: c.currency });
const PERSONAL = ['name', 'email', 'phone', 'taxId'] as const;

export interface CustomerInput {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  taxId?: string | null;
  currency?: string | null;
}

export interface CustomerFilter {
  email?: string | null;
  search?: string | null;
  updatedSince?: Date | null;
}

const EMAIL_INDEX = 'customer_email_ci_uq';

function emailTaken(err: unknown): DomainError | unknown {
  return isUniqueViolation(err, EMAIL_INDEX)
    ? new DomainError(ErrorCode.CONFLICT, 'Another customer already has this email', 'email')
    : err;
}

export class CustomerService {
  constructor(private readonly db: DataSource) {}

  /** Applies an input to a customer, validating each field it names. */
  private apply(target: Customer, input: CustomerInput, creating: boolean): void {
    if (creating || input.name !== undefined) target.name = requiredText(input.name, 'name');
    if (input.email !== undefined) target.email = optionalEmail(input.email);
    if (input.phone !== undefined) target.phone = optionalPhone(input.phone);
    if (input.taxId !== undefined) target.taxId = optionalText(input.taxId, 'taxId', 64);
    if (input.currency !== undefined) target.currency = input.currency ? normalizeCurrency(input.currency) : null;
  }

  /**
   * `afterWrite` runs in the same transaction (outbound sync jobs): the customer and what it
   * triggers are committed together, or neither.
   */
  async create<T>(input: CustomerInput, afterWrite?: AfterWrite<Customer, T>): Promise<{ customer: Customer; extra: T | undefined }> {
    const customer = this.db.manager.create(Customer, { id: newId(), email: null, phone: null, taxId: null, currency: null, version: 1, fieldOrigins: {} });
    this.apply(customer, input, true);
    markOrigins(customer, changedFields({}, audited(customer)), { source: ChangeSource.API });
    try {
      return await this.db.transaction(async (tx) => {
        const saved = await tx.save(customer);
        await recordAudit(tx, { action: 'createCustomer', targetType: 'Customer', targetId: saved.id, after: audited(saved), personal: PERSONAL });
        return { customer: saved, extra: await afterWrite?.(tx, saved) };
      });
    } catch (err) {
      throw emailTaken(err);
    }
  }

  /** Optimistic concurrency: a stale expectedVersion is a CONFLICT and writes nothing. */
  async update<T>(
    id: string,
    expectedVersion: number | null | undefined,
    input: CustomerInput,
    afterWrite?: AfterWrite<Customer, T>,
  ): Promise<{ customer: Customer; extra: T | undefined }> {
    const probe = new Customer();
    this.apply(probe, { ...input, name: input.name === undefined ? 'unchanged' : input.name }, false);
    try {
      return await this.db.transaction(async (tx) => {
        const current = await tx.findOne(Customer, { where: { id }, lock: { mode: 'pessimistic_write' } });
        if (!current) throw notFound('Customer');
        if (expectedVersion != null && current.version !== expectedVersion) {
          throw conflict(`Customer was changed by someone else (version ${current.version}, expected ${expectedVersion})`, {
            currentVersion: current.version,
          });
        }
        const before = audited(current);
        this.apply(current, input, false);
        markOrigins(current, changedFields(before, audited(current)), { source: ChangeSource.API });
        current.version += 1;
        const saved = await tx.save(current);
        await recordAudit(tx, { action: 'updateCustomer', targetType: 'Customer', targetId: saved.id, before, after: audited(saved), personal: PERSONAL });
        return { customer: saved, extra: await afterWrite?.(tx, saved) };
      });
    } catch (err) {
      throw emailTaken(err);
    }
  }

  async findByIds(ids: readonly string[]): Promise<Customer[]> {
    return this.db.getRepository(Customer).findBy({ id: In([...ids]) });
  }

  async get(id: string, scope: AccessScope): Promise<Customer> {
    if (!canSeeCustomer(scope, id)) throw notFound('Customer');
    const customer = await this.db.getRepository(Customer).findOneBy({ id });
    if (!customer) throw notFound('Customer');
    return customer;
  }

  /** `personalData: false` (a key without pii:read): no filtering by email, and search matches names only. */
  async list(filter: CustomerFilter, page: PageArgs, scope: AccessScope, personalData = true): Promise<Connection<Customer>> {
    if (filter.email && !personalData) throw forbidden('Filtering customers by email needs the pii:read scope');
    const qb = this.db.getRepository(Customer).createQueryBuilder('c');
    if (scope.customerIds !== null) qb.andWhere('c.id = ANY(:scopeIds)', { scopeIds: scope.customerIds });
    if (filter.email) qb.andWhere('lower(c.email) = lower(:email)', { email: filter.email.trim() });
    if (filter.search) {
      const pattern = `%${filter.search.trim().toLowerCase().replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
      qb.andWhere(personalData ? '(lower(c.name) LIKE :pattern OR lower(c.email) LIKE :pattern)' : 'lower(c.name) LIKE :pattern', { pattern });
    }
    if (filter.updatedSince) qb.andWhere('c.updatedAt >= :updatedSince', { updatedSince: filter.updatedSince });
    return paginate(qb, page);
  }
}
