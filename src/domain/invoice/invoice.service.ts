import { In, type DataSource } from 'typeorm';
import { Contract } from '../contract/contract.entity.js';
import { Customer } from '../customer/customer.entity.js';
import { canSeeCustomer, type AccessScope } from '../shared/access.js';
import { badInput, conflict, notFound } from '../shared/errors.js';
import { newId } from '../shared/ids.js';
import { normalizeCurrency, toMinorUnits, withinMoneyRange } from '../shared/money.js';
import { recordAudit } from '../../observability/audit.js';
import { ChangeSource, changedFields, markOrigins } from '../shared/field-origins.js';
import { paginate, paginateByParent, type Connection, type PageArgs } from '../shared/pagination.js';
import { requiredText, validDate } from '../shared/validation.js';
import { Invoice, InvoiceLineItem, InvoiceStatus } from './invoice.entity.js';

export interface LineItemInput {
  description: string;
  quantity: number;
  unitAmount: string;
}

export interface CreateInvoiceInput {
  customerId: string;
  contractId?: string | null;
  currency: string;
  dueAt?: Date | null;
  tax?: string | null;
  lineItems: LineItemInput[];
}

export interface UpdateInvoiceInput {
  status?: InvoiceStatus | null;
  dueAt?: Date | null;
  tax?: string | null;
  lineItems?: LineItemInput[] | null;
}

export interface InvoiceFilter {
  customerId?: string | null;
  status?: InvoiceStatus | null;
  dueBefore?: Date | null;
  dueAfter?: Date | null;
}

export const MAX_LINE_ITEMS = 250;

/** Allowed status moves; anything else is refused with BAD_USER_INPUT on `status`. */
const TRANSITIONS: Record<InvoiceStatus, InvoiceStatus[]> = {
  [InvoiceStatus.DRAFT]: [InvoiceStatus.OPEN, InvoiceStatus.VOID],
  [InvoiceStatus.OPEN]: [InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE],
  [InvoiceStatus.UNCOLLECTIBLE]: [InvoiceStatus.PAID, InvoiceStatus.VOID],
  [InvoiceStatus.PAID]: [],
  [InvoiceStatus.VOID]: [],
};

/** Amounts derived from the stored minor units; never typed in by a caller. */
export function invoiceTotals(invoice: Invoice): { subtotal: bigint; tax: bigint; total: bigint; paid: bigint; due: bigint } {
  const subtotal = BigInt(invoice.subtotalMinor);
  const tax = BigInt(invoice.taxMinor);
  const total = subtotal + tax;
  const paid = BigInt(invoice.amountPaidMinor);
  const due = invoice.status === InvoiceStatus.VOID || total < paid ? 0n : total - paid;
  return { subtotal, tax, total, paid, due };
}

function buildLineItems(invoiceId: string, items: LineItemInput[], currency: string): InvoiceLineItem[] {
  if (items.length === 0) throw badInput('lineItems', 'lineItems must hold at least one item');
  if (items.length > MAX_LINE_ITEMS) throw badInput('lineItems', `lineItems may hold at most ${MAX_LINE_ITEMS} items`);
  return items.map((item, i) => {
    const field = `lineItems[${i}]`;
    if (!Number.isInteger(item.quantity) || item.quantity <= 0) {
      throw badInput(`${field}.quantity`, `${field}.quantity must be a positive whole number`);
    }
    const unit = toMinorUnits(item.unitAmount, currency, `${field}.unitAmount`);
    if (unit < 0n) throw badInput(`${field}.unitAmount`, `${field}.unitAmount must not be negative`);
    const line = new InvoiceLineItem();
    line.id = newId();
    line.invoiceId = invoiceId;
    line.position = i;
    line.description = requiredText(item.description, `${field}.description`, 1000);
    line.quantity = item.quantity;
    line.unitAmountMinor = unit.toString();
    line.amountMinor = withinMoneyRange(unit * BigInt(item.quantity), `${field}.amount`).toString();
    return line;
  });
}

function parseTax(tax: string | null | undefined, currency: string): string {
  if (tax === null || tax === undefined) return '0';
  const minor = toMinorUnits(tax, currency, 'tax');
  if (minor < 0n) throw badInput('tax', 'tax must not be negative');
  return minor.toString();
}

const sum = (lines: InvoiceLineItem[]) => withinMoneyRange(lines.reduce((acc, l) => acc + BigInt(l.amountMinor), 0n), 'lineItems').toString();

/** subtotal + tax must fit too. */
function checkTotal(subtotalMinor: string, taxMinor: string): void {
  withinMoneyRange(BigInt(subtotalMinor) + BigInt(taxMinor), 'tax');
}

/** What the audit trail keeps of an invoice (no personal data on it). */
function auditedInvoice(invoice: Invoice, lines?: InvoiceLineItem[]): Record<string, unknown> {
  return {
    status: invoice.status,
    currency: invoice.currency,
    subtotalMinor: invoice.subtotalMinor,
    taxMinor: invoice.taxMinor,
    dueAt: invoice.dueAt,
    ...(lines ? { lineItems: lines.length } : {}),
  };
}

export class InvoiceService {
  constructor(private readonly db: DataSource) {}

  async create(input: CreateInvoiceInput): Promise<Invoice> {
    const currency = normalizeCurrency(input.currency);
    const id = newId();
    const lines = buildLineItems(id, input.lineItems, currency);
    const taxMinor = parseTax(input.tax, currency);
    checkTotal(sum(lines), taxMinor);
    const dueAt = validDate(input.dueAt, 'dueAt');
    return this.db.transaction(async (tx) => {
      const customer = await tx.findOne(Customer, { where: { id: input.customerId }, lock: { mode: 'pessimistic_read' } });
      if (!customer) throw badInput('customerId', 'customerId names no customer');
      if (input.contractId) {
        const contract = await tx.findOneBy(Contract, { id: input.contractId });
        if (!contract || contract.customerId !== customer.id) {
          throw badInput('contractId', 'contractId names no contract of this customer');
        }
      }
      const [{ n }] = (await tx.query(`SELECT nextval('invoice_number_seq')::text AS n`)) as { n: string }[];
      const invoice = tx.create(Invoice, {
        fieldOrigins: {},
        id,
        number: `INV-${n.padStart(6, '0')}`,
        customerId: customer.id,
        contractId: input.contractId ?? null,
        status: InvoiceStatus.DRAFT,
        currency,
        subtotalMinor: sum(lines),
        taxMinor,
        amountPaidMinor: '0',
        issuedAt: null,
        dueAt,
        paidAt: null,
        version: 1,
      });
      markOrigins(invoice, ['currency', 'lineItems', ...(taxMinor !== '0' ? ['tax'] : []), ...(dueAt ? ['dueAt'] : []), ...(input.contractId ? ['contract'] : [])], { source: ChangeSource.API });
      await tx.save(invoice);
      await tx.insert(InvoiceLineItem, lines);
      await recordAudit(tx, { action: 'createInvoice', targetType: 'Invoice', targetId: invoice.id, after: { ...auditedInvoice(invoice, lines), customerId: customer.id } });
      return invoice;
    });
  }

  async update(id: string, expectedVersion: number | null | undefined, input: UpdateInvoiceInput): Promise<Invoice> {
    return this.db.transaction(async (tx) => {
      const invoice = await tx.findOne(Invoice, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!invoice) throw notFound('Invoice');
      if (expectedVersion != null && invoice.version !== expectedVersion) {
        throw conflict(`Invoice was changed by someone else (version ${invoice.version}, expected ${expectedVersion})`, {
          currentVersion: invoice.version,
        });
      }
      const before = auditedInvoice(invoice);
      if (input.lineItems != null || input.tax !== undefined) {
        if (invoice.status !== InvoiceStatus.DRAFT) {
          throw badInput(input.lineItems != null ? 'lineItems' : 'tax', 'only a DRAFT invoice can change its amounts');
        }
      }
      if (input.tax !== undefined) invoice.taxMinor = parseTax(input.tax, invoice.currency);
      if (input.dueAt !== undefined) invoice.dueAt = validDate(input.dueAt, 'dueAt');
      if (input.lineItems != null) {
        const lines = buildLineItems(invoice.id, input.lineItems, invoice.currency);
        await tx.delete(InvoiceLineItem, { invoiceId: invoice.id });
        await tx.insert(InvoiceLineItem, lines);
        invoice.subtotalMinor = sum(lines);
      }
      checkTotal(invoice.subtotalMinor, invoice.taxMinor);
      if (input.status != null && input.status !== invoice.status) this.transition(invoice, input.status);
      const changed = changedFields(before, auditedInvoice(invoice)).map((f) => (f === 'taxMinor' ? 'tax' : f === 'subtotalMinor' ? 'lineItems' : f));
      if (input.lineItems != null) changed.push('lineItems');
      markOrigins(invoice, new Set(changed), { source: ChangeSource.API });
      invoice.version += 1;
      const saved = await tx.save(invoice);
      await recordAudit(tx, { action: 'updateInvoice', targetType: 'Invoice', targetId: invoice.id, before, after: { ...auditedInvoice(saved), ...(input.lineItems != null ? { lineItemsReplaced: input.lineItems.length } : {}) } });
      return saved;
    });
  }

  /** Moves an invoice along its life cycle, stamping the times each step implies. */
  transition(invoice: Invoice, to: InvoiceStatus, at: Date = new Date()): void {
    if (!TRANSITIONS[invoice.status].includes(to)) {
      throw badInput('status', `an invoice cannot move from ${invoice.status} to ${to}`);
    }
    if (to === InvoiceStatus.OPEN) invoice.issuedAt ??= at;
    if (to === InvoiceStatus.PAID) {
      invoice.paidAt = at;
      invoice.amountPaidMinor = invoiceTotals(invoice).total.toString();
    }
    invoice.status = to;
  }

  async findByIds(ids: readonly string[]): Promise<Invoice[]> {
    return this.db.getRepository(Invoice).findBy({ id: In([...ids]) });
  }

  async lineItemsFor(invoiceIds: readonly string[]): Promise<InvoiceLineItem[]> {
    return this.db.getRepository(InvoiceLineItem).find({
      where: { invoiceId: In([...invoiceIds]) },
      order: { invoiceId: 'ASC', position: 'ASC' },
    });
  }

  /** customer.invoices(first, after, status) for many customers in one statement. */
  async pageByCustomers(customerIds: readonly string[], args: PageArgs & { status?: InvoiceStatus | null }) {
    return paginateByParent(
      this.db.getRepository(Invoice).createQueryBuilder('i'),
      'invoice',
      'customer_id',
      customerIds,
      args,
      args.status ? { sql: 'status = :status', params: { status: args.status } } : null,
      (i) => i.customerId,
    );
  }

  async get(id: string, scope: AccessScope): Promise<Invoice> {
    const invoice = await this.db.getRepository(Invoice).findOneBy({ id });
    if (!invoice || !canSeeCustomer(scope, invoice.customerId)) throw notFound('Invoice');
    return invoice;
  }

  async list(filter: InvoiceFilter, page: PageArgs, scope: AccessScope): Promise<Connection<Invoice>> {
    const qb = this.db.getRepository(Invoice).createQueryBuilder('i');
    if (scope.customerIds !== null) qb.andWhere('i.customerId = ANY(:scopeIds)', { scopeIds: scope.customerIds });
    if (filter.customerId) qb.andWhere('i.customerId = :customerId', { customerId: filter.customerId });
    if (filter.status) qb.andWhere('i.status = :status', { status: filter.status });
    if (filter.dueBefore) qb.andWhere('i.dueAt < :dueBefore', { dueBefore: filter.dueBefore });
    if (filter.dueAfter) qb.andWhere('i.dueAt > :dueAfter', { dueAfter: filter.dueAfter });
    return paginate(qb, page);
  }
}

