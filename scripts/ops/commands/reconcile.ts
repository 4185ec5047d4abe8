// Operator command that reconciles by hand: every Stripe event of a span the operator names given the webhook's processing,
// as a redelivery would be (what was processed already changes nothing). It never reads or moves the sweep's cursor.
import { Logger } from '@aws-lambda-powertools/logger';
import { PaymentGatewayUnavailableError } from '../../../lambdas/shared/domain/payment-gateway';
import { EVENT_LIST_RETENTION_SECONDS, reconcileEvents, type ReconciledEvent, type ReconcileResult } from '../../../lambdas/shared/domain/reconcile-events';
import { SERVICE_NAME } from '../../../lambdas/shared/observability-contract';
import { answerOfProcessing, eventProcessor, outcomeOf, type EventProcessing } from '../../../lambdas/stripe-webhook/event-processing';
import { HANDLED_EVENT_TYPES } from '../../../lambdas/stripe-webhook/webhook-contract';
import { defineCommand, instantOf, UsageError, type OpsCommand } from '../command';
import { stripeModeRefusal } from '../stripe-mode';
import { FIX_THE_STRIPE_KEY } from '../printing';

const DAY_MS = 86_400_000;
const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Stripe refusing our key, found in an error or its causes: asking again cannot help until a person replaces the key. */
function keyRejectionIn(error: unknown): PaymentGatewayUnavailableError | undefined {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof PaymentGatewayUnavailableError && cause.credentialsRejected) return cause;
  }
  return undefined;
}

/** The span as epoch seconds, both included: from `since`, to the second before `until` (or to now). */
function spanOf(since: string, until: string | undefined, now: number): { from: number; to: number } {
  const from = instantOf(since, '--since');
  // Stripe lists 30 days: any time of the day 30 days ago is accepted, the list simply starts where Stripe's does.
  const oldest = Math.floor((now - EVENT_LIST_RETENTION_SECONDS * 1000) / DAY_MS) * DAY_MS;
  if (from < oldest) throw new UsageError(`--since ${since} is more than 30 days ago: Stripe lists the events of the last 30 days only`);
  if (from > now) throw new UsageError(`--since ${since} is in the future`);
  if (until === undefined) return { from: Math.ceil(from / 1000), to: Math.floor(now / 1000) };
  const to = instantOf(until, '--until');
  if (to <= from) throw new UsageError(`--until ${until} must be after --since ${since}`);
  return { from: Math.ceil(from / 1000), to: Math.ceil(Math.min(to, now + 1000) / 1000) - 1 };
}

/**
 * What became of an event: `processed` now for the first time, `resumed` (processed before, and this run did more: a refund
 * Stripe had not taken), `refund_due` (recorded, but Stripe did not take its refund this time either), or
 * `already_processed` (nothing left to do).
 */
function statusOf(reconciled: ReconciledEvent<EventProcessing>): 'processed' | 'resumed' | 'refund_due' | 'already_processed' {
  if (reconciled.status === 'already_processed') return 'already_processed';
  if (reconciled.status === 'deferred') return 'refund_due';
  if (!reconciled.recordedBefore) return 'processed';
  return reconciled.acted ? 'resumed' : 'already_processed';
}

/** What the run did, as --json prints it (the events' own JSON left out). */
function reportOf(result: ReconcileResult<EventProcessing>) {
  const stopped = result.stopped;
  return {
    from: iso(result.from),
    to: iso(result.to),
    events: result.events.map((reconciled) => ({
      eventId: reconciled.event.id,
      type: reconciled.event.type,
      created: iso(reconciled.event.created),
      status: statusOf(reconciled),
      ...(reconciled.status === 'processed' && { outcome: outcomeOf(reconciled.processed), missedDelivery: reconciled.missedDelivery }),
      ...(reconciled.status === 'deferred' && { missedDelivery: reconciled.missedDelivery, error: messageOf(reconciled.error) }),
    })),
    ...(stopped?.reason === 'failed' && {
      stopped: {
        ...(stopped.event && { eventId: stopped.event.id, type: stopped.event.type, created: iso(stopped.event.created) }),
        error: messageOf(stopped.error),
      },
    }),
  };
}

const reconcile = defineCommand({
  name: 'reconcile',
  summary: 'process Stripe’s events of a span as redeliveries: lost ones are acted on, the others change nothing (the sweep’s cursor is left alone)',
  flags: {
    since: {
      type: 'string',
      value: 'DATE',
      required: true,
      description: 'events created from then: YYYY-MM-DD (midnight UTC) or a UTC time (2026-11-20T09:30:00Z), within the last 30 days',
    },
    until: { type: 'string', value: 'DATE', description: 'events created before then, in the same forms; default now' },
  },
  async run(context, { flags }) {
    const { from, to } = spanOf(flags.since, flags.until, context.deps.clock.now().getTime());
    if (!context.canListEvents) {
      throw new UsageError('reconcile needs STRIPE_API_KEY (and STRIPE_API_BASE for a local stand-in), or a running `npm start` for its stand-in');
    }
    const refusal = await stripeModeRefusal(context);
    if (refusal) return refusal;
    const process = eventProcessor({
      gateway: context.gateway,
      clock: context.deps.clock,
      ids: context.deps.ids,
      mode: async () => context.stripeMode,
      table: await context.deploymentMark(),
      // The table below says what became of each event; the processing's own log lines would only repeat it.
      logger: new Logger({ serviceName: SERVICE_NAME, logLevel: 'SILENT' }),
      // A command publishes no metrics: what the sweep would count is the `missed` column.
      count: () => undefined,
    });
    const result = await reconcileEvents(
      { store: context.store, events: context.events, clock: context.deps.clock, process, answerOf: answerOfProcessing },
      { span: { kind: 'range', from, to }, types: HANDLED_EVENT_TYPES },
    );
    const report = reportOf(result);
    const acted = report.events.filter((event) => event.status !== 'already_processed');
    const count = (status: string): number => report.events.filter((event) => event.status === status).length;
    const missed = acted.filter((event) => event.missedDelivery).length;
    if (context.json) context.print(report);
    else {
      if (acted.length > 0) {
        context.printTable(
          acted.map((event) => ({ ...event, missed: event.missedDelivery ? 'yes' : '' })),
          ['created', 'eventId', 'type', 'status', 'outcome', 'missed'],
        );
      }
      context.out(
        `${report.events.length} events created from ${report.from} to ${report.to}: ${count('already_processed')} already processed, ` +
          `${count('processed')} processed now (${missed} missed by the webhook), ${count('resumed')} resumed, ${count('refund_due')} with a refund due.`,
      );
    }
    const stoppedBy = result.stopped?.reason === 'failed' ? [result.stopped.error] : [];
    const errors = [...result.events.flatMap((reconciled) => (reconciled.status === 'deferred' ? [reconciled.error] : [])), ...stoppedBy];
    const keyRejected = errors.map(keyRejectionIn).find((rejection) => rejection !== undefined);
    if (keyRejected) {
      context.err(`error: STRIPE_KEY_REJECTED: ${keyRejected.message}; ${FIX_THE_STRIPE_KEY}, then run the same command again`);
      return 1;
    }
    const due = report.events.filter((event) => event.status === 'refund_due');
    if (due.length > 0) {
      context.err(
        `error: REFUNDS_DUE: Stripe did not take the refund of ${due.map((event) => event.eventId).join(', ')}: ` +
          'the reconciliation sweep asks again every run; run the same command again, or `payments retry-refund`, to ask now',
      );
    }
    if (result.stopped?.reason !== 'failed') return due.length > 0 ? 1 : 0;
    const at = report.stopped?.eventId ? `at ${report.stopped.eventId} (created ${report.stopped.created})` : 'listing Stripe’s events';
    context.err(`error: RECONCILE_STOPPED: stopped ${at}: ${report.stopped?.error}; nothing after it was processed: run the same command again`);
    return 1;
  },
});

export const reconcileCommands: readonly OpsCommand[] = [reconcile];
