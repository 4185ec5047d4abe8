// One place for the records of what happened: audit entries, and the processed-event record a Stripe event leaves.
import type { Clock, IdSource } from './collaborators';
import type { AuditActorType, AuditEntry, ProcessedEvent } from './model';

/** What an audit entry says; its id and (unless given) its time are added here. */
export interface AuditFacts {
  readonly eventType: string;
  readonly entityType: AuditEntry['entityType'];
  readonly entityId: string;
  readonly actorType: AuditActorType;
  readonly actorId?: string | undefined;
  readonly metadata: AuditEntry['metadata'];
  /** The time of the transaction the entry is written in. @default now */
  readonly at?: string;
}

export function auditEntry(deps: { readonly clock: Clock; readonly ids: IdSource }, facts: AuditFacts): AuditEntry {
  const { at, actorId, ...rest } = facts;
  return { auditId: deps.ids.uuid(), ...rest, ...(actorId !== undefined && { actorId }), occurredAt: at ?? deps.clock.now().toISOString() };
}

/** Recorded in the same transaction when a change comes from a Stripe event, so the event acts once. */
export interface EventMarker {
  readonly eventId: string;
  readonly eventType: string;
  /** Epoch seconds until which the event is remembered. */
  readonly expiresAt: number;
}

/** The record that `marker`'s event was processed, with what it did. */
export function processedEventRecord(
  marker: EventMarker,
  outcome: string,
  effects: { readonly tripId?: string | undefined; readonly references?: readonly string[]; readonly at: string },
): ProcessedEvent {
  return {
    eventId: marker.eventId,
    eventType: marker.eventType,
    outcome,
    ...(effects.tripId !== undefined && { tripId: effects.tripId }),
    references: effects.references ?? [],
    processedAt: effects.at,
    expiresAt: marker.expiresAt,
  };
}
