import { recordAudit } from '../../observability/audit.js';
import { ChangeSource, changedFields, markOrigins } from '../shared/field-origins.js';
import { In, type DataSource } from 'typeorm';
import { Customer } from '../customer/customer.entity.js';
import type { AfterWrite } from '../shared/after-write.js';
import type { AccessScope } from '../shared/access.js';
import { canSeeCustomer } from '../shared/access.js';
import { badInput, conflict, notFound } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { normalizeCurrency, toMinorUnits } from '../shared/money.js';
import { paginate, paginateByParent, type Connection, type PageArgs } from '../shared/pagination.js';
import { requiredText, validDate } from '../shared/validation.js';
import { Contract, ContractStatus } from './contract.entity.js';

export interface MoneyInput {
  amount: string;
  currency: string;
}

export interface ContractInput {
  customerId?: string;
  title?: string | null;
  status?: ContractStatus | null;
  startDate?: Date | null;
  endDate?: Date | null;
  value?: MoneyInput | null;
}

export interface ContractFilter {
  customerId?: string | null;
  status?: ContractStatus | null;
}

/** Contract fields the audit trail keeps. */
const audited = (k: Contract) => ({ title: k.title, status: k.status, startDate: k.startDate, endDate: k.endDate, valueMinor: k.valueMinor, valueCurrency: k.valueCurrency });

/** The API's names of changed fields: the value's amount and currency are one field, `value`. */
const originFields = (fields: string[]) => [...new Set(fields.map((f) => (f === 'valueMinor' || f === 'valueCurrency' ? 'value' : f)))];

export class ContractService {
  constructor(private readonly db: DataSource) {}

  private apply(target: Contract, input: ContractInput, creating: boolean): void {
    if (creating || input.title !== undefined) target.title = requiredText(input.title, 'title');
    if (input.status != null) target.status = input.status;
    if (input.startDate !== undefined) target.startDate = validDate(input.startDate, 'startDate');
    if (input.endDate !== undefined) target.endDate = validDate(input.endDate, 'endDate');
    if (input.value !== undefined) {
      if (input.value === null) {
        target.valueMinor = null;
        target.valueCurrency = null;
      } else {
        const currency = normalizeCurrency(input.value.currency, 'value.currency');
        const minor = toMinorUnits(input.value.amount, currency, 'value.amount');
        if (minor < 0n) throw badInput('value.amount', 'value.amount must not be negative');
        target.valueMinor = minor.toString();
        target.valueCurrency = currency;
      }
    }
    if (target.startDate && target.endDate && target.endDate < target.startDate) {
      throw badInput('endDate', 'endDate must not be before startDate');
    }
  }

  async create<T>(input: ContractInput & { customerId: string }, afterWrite?: AfterWrite<Contract, T>): Promise<{ contract: Contract; extra: T | undefined }> {
    const contract = this.db.manager.create(Contract, {
      id: newId(),
      customerId: input.customerId,
      status: ContractStatus.DRAFT,
      startDate: null,
      endDate: null,
      valueMinor: null,
      valueCurrency: null,
      version: 1,
      fieldOrigins: {},
    });
    this.apply(contract, input, true);
    markOrigins(contract, originFields(changedFields({}, audited(contract))), { source: ChangeSource.API });
    return this.db.transaction(async (tx) => {
      const customer = await tx.findOne(Customer, { where: { id: input.customerId }, lock: { mode: 'pessimistic_read' } });
      if (!customer) throw badInput('customerId', 'customerId names no customer');
      const saved = await tx.save(contract);
      await recordAudit(tx, { action: 'createContract', targetType: 'Contract', targetId: saved.id, after: { ...audited(saved), customerId: saved.customerId } });
      return { contract: saved, extra: await afterWrite?.(tx, saved) };
    });
  }

  async update<T>(
    id: string,
    expectedVersion: number | null | undefined,
    input: ContractInput,
    afterWrite?: AfterWrite<Contract, T>,
  ): Promise<{ contract: Contract; extra: T | undefined }> {
    return this.db.transaction(async (tx) => {
      const current = await tx.findOne(Contract, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!current) throw notFound('Contract');
      if (expectedVersion != null && current.version !== expectedVersion) {
        throw conflict(`Contract was changed by someone else (version ${current.version}, expected ${expectedVersion})`, {
          currentVersion: current.version,
        });
      }
      const before = audited(current);
      this.apply(current, input, false);
      markOrigins(current, originFields(changedFields(before, audited(current))), { source: ChangeSource.API });
      current.version += 1;
      const saved = await tx.save(current);
      await recordAudit(tx, { action: 'updateContract', targetType: 'Contract', targetId: saved.id, before, after: audited(saved) });
      return { contract: saved, extra: await afterWrite?.(tx, saved) };
    });
  }

  async findByIds(ids: readonly string[]): Promise<Contract[]> {
    return this.db.getRepository(Contract).findBy({ id: In([...ids]) });
  }

  /** customer.contracts(first, after) for many customers in one statement. */
  async pageByCustomers(customerIds: readonly string[], args: PageArgs) {
    return paginateByParent(
      this.db.getRepository(Contract).createQueryBuilder('k'),
      'contract',
      'customer_id',
      customerIds,
      args,
      null,
      (k) => k.customerId,
    );
  }

  async get(id: string, scope: AccessScope): Promise<Contract> {
    const contract = await this.db.getRepository(Contract).findOneBy({ id });
    if (!contract || !canSeeCustomer(scope, contract.customerId)) throw notFound('Contract');
    return contract;
  }

  async list(filter: ContractFilter, page: PageArgs, scope: AccessScope): Promise<Connection<Contract>> {
    const qb = this.db.getRepository(Contract).createQueryBuilder('k');
    if (scope.customerIds !== null) qb.andWhere('k.customerId = ANY(:scopeIds)', { scopeIds: scope.customerIds });
    if (filter.customerId) qb.andWhere('k.customerId = :customerId', { customerId: filter.customerId });
    if (filter.status) qb.andWhere('k.status = :status', { status: filter.status });
    return paginate(qb, page);
  }
}
