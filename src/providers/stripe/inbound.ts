import { Invoice, InvoiceStatus } from '../../domain/invoice/invoice.entity.js';
import { isUuid } from '../../domain/shared/ids.js';
import type { InboundHandler } from '../../webhooks/inbound-handler.js';
import { nonEmpty, normaliseEmail, resolveCustomer, updateCustomer, type ReconcileContext } from '../../webhooks/reconcile.js';

type Json = Record<string, any>;

const STATUS: Record<string, InvoiceStatus> = {
  draft: InvoiceStatus.DRAFT,
  open: InvoiceStatus.OPEN,
  paid: InvoiceStatus.PAID,
  void: InvoiceStatus.VOID,
  uncollectible: InvoiceStatus.UNCOLLECTIBLE,
};

/** Within the same second (Stripe's `created` resolution), a later stage wins: open never undoes paid. */
const STAGE: Record<InvoiceStatus, number> = { DRAFT: 0, OPEN: 1, PAID: 2, VOID: 2, UNCOLLECTIBLE: 2 };

const INVOICE_EVENTS = new Set(['invoice.created', 'invoice.finalized', 'invoice.paid', 'invoice.payment_failed', 'invoice.voided', 'invoice.updated', 'invoice.marked_uncollectible', 'invoice.payment_succeeded', 'invoice.sent']);

async function customerEvent(ctx: ReconcileContext, event: Json) {
  const obj = event.data.object as Json;
  const id = nonEmpty(obj.id);
  if (!id?.startsWith('cus_')) return { status: 'IGNORED' as const, note: 'data.object is not a customer' };
  if (event.type === 'customer.deleted') {
    await ctx.lockObject('Customer', id);
    return (await ctx.markDeleted('Customer', id)) ? { status: 'PROCESSED' as const } : { status: 'IGNORED' as const, note: `customer ${id} is not linked` };
  }
  const facts = { name: obj.name ?? null, email: obj.email ?? null, phone: obj.phone ?? null, currency: nonEmpty(obj.currency) };
  const { customer, created } = await resolveCustomer(ctx, id, facts, nonEmpty(obj.metadata?.switchboard_id));
  const ref = await ctx.link('Customer', customer.id, id, { livemode: Boolean(obj.livemode) });
  if (created) return { status: 'PROCESSED' as const };
  // customer.updated names what changed in previous_attributes: only those fields are asserted.
  const changed = event.type === 'customer.updated' && event.data.previous_attributes ? Object.keys(event.data.previous_attributes) : null;
  const asserted = changed ? Object.fromEntries(Object.entries(facts).filter(([k]) => changed.includes(k))) : facts;
  // Two changes of one field in the same second (Stripe's `created` resolution) may arrive in
  // either order: the one whose previous value is what the model holds came second and applies;
  // the other, older, does not undo it.
  const previous = (event.data.previous_attributes ?? null) as Json | null;
  const tieBreak = previous
    ? (field: string) => {
        const key = field.slice(field.indexOf('.') + 1);
        if (!(key in previous)) return false;
        const norm = key === 'email' ? normaliseEmail : key === 'currency' ? (v: unknown) => nonEmpty(v)?.toUpperCase() ?? null : nonEmpty;
        return norm(previous[key]) === norm((customer as unknown as Json)[key]);
      }
    : null;
  await updateCustomer(ctx, customer, ref, asserted, true, tieBreak);
  return { status: 'PROCESSED' as const };
}

async function invoiceEvent(ctx: ReconcileContext, event: Json) {
  const obj = event.data.object as Json;
  const id = nonEmpty(obj.id);
  if (!id?.startsWith('in_')) return { status: 'IGNORED' as const, note: 'data.object is not an invoice' };
  await ctx.lockObject('Invoice', id);
  let ref = await ctx.findRef('Invoice', id);
  let invoice = ref ? await ctx.tx.findOne(Invoice, { where: { id: ref.entityId }, lock: { mode: 'pessimistic_write' } }) : null;
  if (!invoice) {
    // The invoice we created (sendInvoice) carries our id in its metadata, even before the job
    // that created it has written the link.
    const ours = nonEmpty(obj.metadata?.switchboard_id);
    invoice = ours && isUuid(ours) ? await ctx.tx.findOne(Invoice, { where: { id: ours }, lock: { mode: 'pessimistic_write' } }) : null;
    if (!invoice) {
      return { status: 'IGNORED' as const, note: `invoice ${id} is not linked to a canonical invoice (invoices are created in the gateway and sent with sendInvoice)` };
    }
    ref = await ctx.link('Invoice', invoice.id, id, { status: obj.status ?? null, number: obj.number ?? null });
  }
  const status = STATUS[String(obj.status)];
  const currency = String(obj.currency ?? '').toUpperCase();
  const incoming: Record<string, unknown> = {};
  if (status) incoming['invoice.status'] = status;
  if (Number.isSafeInteger(obj.amount_paid) && currency === invoice.currency) incoming['invoice.amountPaid'] = String(obj.amount_paid);
  const paidAt = obj.status_transitions?.paid_at;
  if (typeof paidAt === 'number') incoming['invoice.paidAt'] = new Date(paidAt * 1000).toISOString();
  const current = {
    'invoice.status': invoice.status,
    'invoice.amountPaid': String(invoice.amountPaidMinor),
    'invoice.paidAt': invoice.paidAt?.toISOString() ?? null,
  };
  // Within one second (Stripe's resolution) an earlier stage's snapshot loses on every field: a
  // late invoice.finalized (open, nothing paid) must not undo invoice.paid's amount either.
  const stage = status ? STAGE[status] : -1;
  const changes = ctx.applyOwned('Invoice', current, incoming, ref!.fieldClock, () => stage >= STAGE[invoice!.status]);
  ref!.remoteData = { ...(ref!.remoteData ?? {}), status: obj.status ?? null, number: obj.number ?? null };
  await ctx.tx.save(ref!);
  if (event.type === 'invoice.payment_failed') ctx.notes.push('payment failed at the provider');
  if (Object.keys(changes).length === 0) return { status: 'PROCESSED' as const };
  if (changes['invoice.status']) invoice.status = changes['invoice.status'] as InvoiceStatus;
  if (changes['invoice.amountPaid'] !== undefined) invoice.amountPaidMinor = String(changes['invoice.amountPaid']);
  if (changes['invoice.paidAt'] !== undefined) invoice.paidAt = new Date(String(changes['invoice.paidAt']));
  ctx.markOrigins(invoice, Object.keys(changes));
  invoice.version += 1;
  const saved = await ctx.tx.save(invoice);
  ctx.published.invoices.push(saved);
  ctx.notes.push(`invoice ${invoice.id}: ${Object.keys(changes).join(', ')} changed`);
  return { status: 'PROCESSED' as const };
}

/** Stripe events: customers (identity, ownership) and invoices (status, amount paid, paid time). */
export const stripeHandler: InboundHandler = {
  async handle(ctx, payload) {
    const event = payload as Json;
    if (['customer.created', 'customer.updated', 'customer.deleted'].includes(event.type)) return customerEvent(ctx, event);
    if (INVOICE_EVENTS.has(event.type)) return invoiceEvent(ctx, event);
    return { status: 'IGNORED', note: `Stripe ${event.type} events change nothing in the canonical model` };
  },
};
