import { auditEntry } from './audit-trail';
import type { Deps } from './collaborators';
import { failure, type BookingFailure } from './errors';
import type { UnusableEvent } from './model';

/**
 * Input: the event's id and type and what is wrong with it. Output: whether this delivery recorded it (a
 * redelivery finds it recorded). The event is never acted on: no booking, no refund, no retry loop.
 */
export async function recordUnusableEvent(
  deps: Deps,
  input: { readonly eventId: string; readonly eventType: string; readonly problem: string },
): Promise<{ readonly recorded: boolean }> {
  const at = deps.clock.now().toISOString();
  const event: UnusableEvent = { ...input, status: 'needs_attention', receivedAt: at, updatedAt: at };
  const result = await deps.store.commit({
    at,
    unusableEvent: { event },
    audits: [
      auditEntry(deps, {
        eventType: 'stripe_event.unusable',
        entityType: 'event',
        entityId: input.eventId,
        actorType: 'stripe',
        at,
        metadata: { eventType: input.eventType, problem: input.problem },
      }),
    ],
  });
  return { recorded: result.committed };
}

/** A person looked at an unusable event and closes it; the note goes into its audit trail. */
export async function resolveUnusableEvent(
  deps: Deps,
  eventId: string,
  note: string,
  actorId?: string,
): Promise<{ ok: true; event: UnusableEvent } | BookingFailure> {
  const current = await deps.store.getUnusableEvent(eventId);
  if (!current) return failure('NOT_NEEDING_ATTENTION', `No unusable event ${eventId} is recorded.`);
  if (current.status !== 'needs_attention') return failure('NOT_NEEDING_ATTENTION', `Event ${eventId} is ${current.status} already.`);
  const at = deps.clock.now().toISOString();
  const event: UnusableEvent = { ...current, status: 'resolved', updatedAt: at };
  const result = await deps.store.commit({
    at,
    unusableEvent: { event, expectedStatus: 'needs_attention' },
    audits: [
      auditEntry(deps, {
        eventType: 'stripe_event.resolved',
        entityType: 'event',
        entityId: eventId,
        actorType: 'operator',
        actorId,
        at,
        metadata: { note, problem: current.problem },
      }),
    ],
  });
  return result.committed ? { ok: true, event } : failure('NOT_NEEDING_ATTENTION', `Event ${eventId} was resolved meanwhile.`);
}
