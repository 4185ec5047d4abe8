// Use case: the reconciliation sweep. The provider's own list of the events it sent is read back against the processed-event
// records, so an event whose delivery was lost is still processed, once, by the processing a webhook delivery gets.
import type { AtomicWrite, AtomicWriteResult, BookingQueries, BookingStore } from './booking-store';
import type { Clock } from './collaborators';
import { StoreUnavailableError } from './errors';
import type { EventCursor, ProviderMode } from './model';
import { processedEventRecord } from './audit-trail';
import { PROCESSED_EVENT_RETENTION_DAYS, RetryLaterError, UnansweredBeforeWritingError } from './payment-events';
import { PaymentGatewayUnavailableError, type ListedEvent, type PaymentEventSource } from './payment-gateway';

/** Stripe lists the events of the last 30 days. Processed-event records are kept 35, so every event it lists is recognised. */
export const EVENT_LIST_RETENTION_SECONDS = 30 * 86_400;

/**
 * A scheduled sweep acts only on events at least this old. Stripe delivers within seconds: a younger event is left to its
 * delivery, so the sweep does not race it. No younger event is called a missed delivery either (an operator's range
 * processes it all the same): its delivery may be on its way.
 */
export const SETTLE_SECONDS = 300;

/** A scheduled sweep lists from this far before its cursor, so an event that shows up in Stripe's list late is still seen. */
export const OVERLAP_SECONDS = 600;

/** The span listed at once: the cursor moves on after each, so a long backlog (a first run) is worked through in durable steps. */
export const WINDOW_SECONDS = 6 * 3_600;

/**
 * The most events one listing of Stripe's is asked for at once (ten of its pages): a window holding more is listed in
 * pieces, newest first, each kept until the window is whole, so nothing listed is listed again.
 */
export const EVENTS_PER_PIECE = 1_000;

/** Where the sweep keeps its place in the provider's event list (a store's port, beside BookingStore), so a restarted sweep goes on from it. */
export interface EventCursorStore {
  getEventCursor(source: string): Promise<EventCursor | undefined>;
  /** Stores `cursor` unless the stored one of its source is further on; false when it was (nothing is written then). */
  moveEventCursor(cursor: EventCursor): Promise<boolean>;
}

/** The store a sweep needs: the one the processing writes through, the processed-event records, and the cursor. */
export type ReconcileStore = BookingStore & Pick<BookingQueries, 'getProcessedEvent'> & EventCursorStore;

export interface ReconcileDeps<Processed> {
  readonly store: ReconcileStore;
  readonly events: PaymentEventSource;
  readonly clock: Clock;
  /**
   * The processing a verified webhook delivery gets, writing through the store it is given (the sweep watches its commits
   * to know whether this sweep is the one that acted). Throws when the event must be processed again later — unless its
   * processed-event record was written first: then all that can be left is a refund stored as `requested`, which
   * resumeRequestedRefunds asks for again, and the event is done as far as the sweep goes (`deferred`).
   */
  readonly process: (json: unknown, store: BookingStore) => Promise<Processed>;
  /**
   * What the processing answered for an event of ours, or undefined for one that is not ours (another product's, another
   * mode's). An event of ours can be answered without any record of it being written: a redelivery-like `duplicate` for a
   * trip already booked on the traveller's return, a late end of checkout, the events of a refund we made. The sweep then
   * records it itself, so it is not processed again by the next sweep, and a lost delivery of it counts as missed once.
   */
  readonly answerOf: (processed: Processed) => ProcessedAnswer | undefined;
  /**
   * Told, before the cursor is moved at all, that it was older than the provider's list (`gap`, epoch seconds): once the
   * cursor moves past it nothing can tell it again, so it is said before anything else of the run can fail.
   */
  readonly onEventsBeyondReach?: (gap: { readonly from: number; readonly to: number }) => void;
}

/** What a processed-event record keeps of an answer. */
export interface ProcessedAnswer {
  readonly outcome: string;
  readonly tripId?: string;
  readonly references?: readonly string[];
}

export type ReconcileSpan =
  /**
   * A scheduled sweep of `source`: from its cursor (less OVERLAP_SECONDS) to SETTLE_SECONDS ago, moving the cursor as it goes.
   * Without a cursor (the first run) it starts as far back as the provider keeps events: a delivery lost before the sweep
   * existed is found too, and processing an event again is what a redelivery does anyway. `mode` is the deployment's,
   * written on the cursor so a sweep by hand with a key of the other mode can be refused.
   */
  | { readonly kind: 'cursor'; readonly source: string; readonly mode: ProviderMode }
  /**
   * An operator's sweep of the events created from `from` to `to` (epoch seconds, both included): no cursor is read or
   * moved, and every event is processed, recorded or not, as a redelivery would be (its record sees that nothing is done
   * twice), so running it again resumes what failed after an event's record was written (a refund Stripe did not take).
   */
  | { readonly kind: 'range'; readonly from: number; readonly to: number };

export interface ReconcileInput {
  readonly span: ReconcileSpan;
  readonly types: readonly string[];
  /** Milliseconds left to work in (the function's remaining time less a margin): no event is begun once it is 0. */
  readonly timeLeft?: () => number;
  /**
   * True once the run was asked to end before its time (the process running it stopping): it ends as out of time, but
   * what it got through says nothing of the account's pace, so no narrower window is kept and it is not stalled.
   */
  readonly interrupted?: () => boolean;
}

export interface ListedEventSummary {
  readonly id: string;
  readonly type: string;
  readonly created: number;
}

export type ReconciledEvent<Processed> =
  /** Its processed-event (or unusable-event) record exists: a webhook delivery, or an earlier sweep, dealt with it. Skipped. */
  | { readonly status: 'already_processed'; readonly event: ListedEventSummary }
  | {
      readonly status: 'processed';
      readonly event: ListedEventSummary;
      readonly processed: Processed;
      /** Its record existed before (a range sweep, or a retry of the cursor's): it was processed again, as a redelivery. */
      readonly recordedBefore: boolean;
      /** A change of this sweep's processing was committed: what it did (a booking, a refund…) is this sweep's to count. */
      readonly acted: boolean;
      /**
       * This sweep wrote the event's processed-event (or unusable-event) record, the provider says a delivery of it has
       * not gone through (the listed event's pending deliveries), and it is older than SETTLE_SECONDS: the webhook is
       * losing deliveries. An event the webhook took (2xx) but answered without a record of its own (a trip booked on the
       * traveller's return, a refund we made) is recorded here too, and is no missed delivery; nor is a range's event
       * younger than the settle delay, whose delivery may still be on its way (it is processed all the same).
       */
      readonly missedDelivery: boolean;
    }
  /**
   * What is left of it is a stored refund the provider did not take: its processed-event record stands (this sweep wrote
   * it, a range found it, or another processing wrote it meanwhile) and the processing failed after it, or the provider
   * failed on a refund stored before (by a traveller's return, whose record is its own); never a question the processing
   * asked the provider before writing anything, which stops the sweep at the event. The refund is
   * resumeRequestedRefunds' now; the sweep goes on. Processed again only if listed again, as an unrecorded event is.
   */
  | {
      readonly status: 'deferred';
      readonly event: ListedEventSummary;
      readonly error: unknown;
      readonly recordedBefore: boolean;
      /** As for a processed event. */
      readonly missedDelivery: boolean;
    };

export type ReconcileStop =
  /**
   * An event failed before its record was written (`event`), or the list could not be read: the cursor stays at it, the
   * next sweep starts there again (the event, still unrecorded, is processed then).
   */
  | {
      readonly reason: 'failed';
      readonly event?: ListedEventSummary;
      readonly error: unknown;
      /** Stripe or DynamoDB did not answer, or the state kept moving: the next sweep should get through. */
      readonly retryable: boolean;
    }
  /** No time was left: the next sweep goes on from the first event not begun. */
  | { readonly reason: 'out_of_time' };

export interface ReconcileResult<Processed> {
  /** The span listed, epoch seconds, both included (`to < from`: nothing was old enough yet). */
  readonly from: number;
  readonly to: number;
  readonly events: readonly ReconciledEvent<Processed>[];
  readonly stopped?: ReconcileStop;
  /** A scheduled sweep's cursor as it stands afterwards. */
  readonly cursor?: EventCursor;
  /** A scheduled sweep's cursor was older than the provider's list: events created in this span can no longer be listed. */
  readonly gap?: { readonly from: number; readonly to: number };
  /**
   * A scheduled sweep ran out of time with its cursor where it found it, no event acted on, and no narrower width learned
   * for its windows: the next run, starting there, may do no better (the provider too slow, or the windows as narrow as
   * they go), so a person should know.
   */
  readonly stalled?: true;
}

/**
 * Input: what to sweep (the cursor of a source, or a range) and the event types to list. Output: what became of every
 * event listed, and where the sweep stopped if it did.
 * Steps: compute the span → for each window of it, oldest first: list the events (in pieces of EVENTS_PER_PIECE; a run
 * that gets through none of its windows narrows the next runs', kept on the cursor; a sparse one lets the next widen) →
 * for each, oldest first: skip it when
 * its processed-event or unusable-event record exists (unless the span is a range), else hand it to `process`, watching
 * its commits → move the cursor past the window. On a failure before the event's record (or the deadline) stop at that
 * event, and leave the cursor at its second: it is never passed, and the next sweep sees it again. A failure after the
 * record, or the provider's, leaves a stored refund only, resumed on its own, so it holds nothing back. Which of a sweep and a live delivery
 * acts is decided by the processed-event record each writes in its transaction, so never both.
 */
export async function reconcileEvents<Processed>(deps: ReconcileDeps<Processed>, input: ReconcileInput): Promise<ReconcileResult<Processed>> {
  const now = Math.floor(deps.clock.now().getTime() / 1000);
  const oldestListed = now - EVENT_LIST_RETENTION_SECONDS;
  // Events created after it may still be on their way to the webhook: a range reaches them, but none is called missed.
  const settled = now - SETTLE_SECONDS;
  const source = input.span.kind === 'cursor' ? input.span.source : undefined;
  let cursor = source === undefined ? undefined : await deps.store.getEventCursor(source);
  const { from, to } = spanOf(input.span, cursor, now);
  const gap = cursor !== undefined && cursor.resumeAt < oldestListed ? { from: cursor.resumeAt, to: oldestListed - 1 } : undefined;
  if (gap) deps.onEventsBeyondReach?.(gap);
  const outOfTime = (): boolean => input.timeLeft !== undefined && input.timeLeft() <= 0;
  // Events a sweep of the version before the refunds due stopped at: processed once more, as that version would have.
  const legacyRetries = new Set(cursor?.retryEventIds ?? []);
  // They were created at or before the cursor's second: once a window reaches it, they were listed or are listed no more.
  const retriesListedBy = cursor?.resumeAt ?? from;
  const events: ReconciledEvent<Processed>[] = [];
  const startedAt = cursor?.resumeAt;
  // Narrowed where the account's events are dense, widened again (up to WINDOW_SECONDS) where they are sparse; kept on the
  // cursor, so the next sweep does not learn it again.
  let span = Math.min(WINDOW_SECONDS, Math.max(1, cursor?.windowSeconds ?? WINDOW_SECONDS));
  const startSpan = span;

  const moveCursor = async (resumeAt: number): Promise<void> => {
    if (input.span.kind !== 'cursor') return;
    const { source: at, mode } = input.span;
    // Legacy retries only ever leave: the cursor holds the same ones while it holds as many.
    const retriesLeft = [...legacyRetries];
    const sameRetries = (cursor?.retryEventIds?.length ?? 0) === retriesLeft.length;
    // The width is kept only once it is not the widest (a cursor without one starts at WINDOW_SECONDS).
    const sameWidth = (cursor?.windowSeconds ?? WINDOW_SECONDS) === span;
    if (cursor !== undefined && resumeAt <= cursor.resumeAt && cursor.mode === mode && sameRetries && sameWidth) return;
    const next: EventCursor = {
      source: at,
      resumeAt: Math.max(resumeAt, cursor?.resumeAt ?? resumeAt),
      mode,
      ...(retriesLeft.length > 0 && { retryEventIds: retriesLeft }),
      ...(span !== WINDOW_SECONDS && { windowSeconds: span }),
      updatedAt: deps.clock.now().toISOString(),
    };
    // Refused when another sweep got further: then the cursor stands where that one left it.
    cursor = (await deps.store.moveEventCursor(next)) ? next : await deps.store.getEventCursor(at);
  };
  /**
   * Where the cursor stops at `event`: its second, or, for an event of the overlap that showed up late, where the cursor
   * already stands (it never goes back). The next sweep lists that event again: unrecorded, it is processed then.
   */
  const stopAt = (event: ListedEvent): Promise<void> => moveCursor(event.created);

  // Every event created before `reached` has been dealt with in this sweep: where the cursor goes when it is written.
  let reached: number | undefined;
  const saveProgress = async (): Promise<void> => {
    if (reached !== undefined) await moveCursor(reached);
    // No window done: the width learned is kept all the same (on a first cursor, at the span's start).
    else if (cursor !== undefined || span !== startSpan) await moveCursor(cursor?.resumeAt ?? from);
  };
  // The window being listed or processed, and how much of it was listed: the pace of its events.
  let current: ListedSoFar | undefined;
  /**
   * Out of time (stopped before `event`, if at one). A run that neither moved the cursor nor acted on an event (another
   * product's is none) leaves the next runs' windows narrower, at the pace of the one it was on, rather than meet it again
   * as wide; stalled, for a person to know, unless that narrowing learned something (a pace it listed, or the first from
   * the widest windows): the windows as narrow as they go, or Stripe too slow to list even a piece.
   */
  const stopOutOfTime = async (event?: ListedEvent): Promise<ReconcileResult<Processed>> => {
    if (event !== undefined) await stopAt(event);
    const moved = cursor !== undefined && (startedAt === undefined || cursor.resumeAt > startedAt);
    const acted = events.some((reconciled) => reconciled.status === 'deferred' || (reconciled.status === 'processed' && reconciled.acted));
    const interrupted = input.interrupted?.() === true;
    if (!interrupted && !moved && !acted && current !== undefined) span = Math.min(span, narrowedSpan(current));
    // Narrower than the run began with, at a pace it listed or from the widest: something learned. Halved blind from a
    // narrowed width, or narrowed back after widening within the run: nothing the next run will not meet again.
    const learned = span < startSpan && ((current?.count ?? 0) > 0 || startSpan === WINDOW_SECONDS);
    await saveProgress();
    const stalled = input.span.kind === 'cursor' && !interrupted && !moved && !acted && !learned;
    return { from, to, events, stopped: { reason: 'out_of_time' }, ...(stalled && { stalled: true as const }), ...after(cursor, gap) };
  };
  const list = (createdFrom: number, createdTo: number, after: string | undefined) =>
    deps.events.listEvents({ types: input.types, createdFrom, createdTo, atMost: EVENTS_PER_PIECE, ...(after !== undefined && { after }) });

  for (let windowFrom = from; windowFrom <= to; ) {
    const windowTo = Math.min(to, windowFrom + span - 1);
    if (outOfTime()) return stopOutOfTime();
    // The window in pieces of EVENTS_PER_PIECE, newest first, each going on after the one before: nothing is listed twice.
    // Oldest first together, they are the window's list, as one listing would have given it.
    const pieces: (readonly ListedEvent[])[] = [];
    const window: ListedSoFar = { from: windowFrom, to: windowTo, listedDownTo: windowTo + 1, count: 0 };
    current = window;
    let listed: readonly ListedEvent[] | undefined;
    try {
      let after: string | undefined;
      while (listed === undefined) {
        const listing = await list(windowFrom, windowTo, after);
        const cut = 'listedDownTo' in listing ? listing : undefined;
        const piece = 'listedDownTo' in listing ? listing.events : listing;
        window.newest ??= piece.at(-1)?.created;
        window.count += piece.length;
        window.listedDownTo = cut?.listedDownTo ?? piece[0]?.created ?? windowFrom;
        pieces.unshift(piece);
        if (cut) after = cut.lastId;
        else listed = pieces.flat();
      }
    } catch (error) {
      // The run's time ran out between two pages of a window (a dense one, or a slow provider): where it stops, not a failure.
      if (error instanceof PaymentGatewayUnavailableError && error.outOfTime) return stopOutOfTime();
      await saveProgress();
      return { from, to, events, stopped: { reason: 'failed', error, retryable: isRetryable(error) }, ...after(cursor, gap) };
    }
    for (const event of listed) {
      if (outOfTime()) return stopOutOfTime(event);
      const watch = new CommitWatch(deps.store, event.id);
      try {
        const again = input.span.kind === 'range' ? 'range' : legacyRetries.has(event.id) ? 'legacy_retry' : undefined;
        events.push(await reconcileOne(deps, event, again, watch, settled));
        legacyRetries.delete(event.id);
      } catch (error) {
        await stopAt(event);
        const stopped: ReconcileStop = { reason: 'failed', event: summaryOf(event), error, retryable: isRetryable(error) };
        return { from, to, events, stopped, ...after(cursor, gap) };
      }
    }
    reached = windowTo + 1;
    // Listed by now (in a window up to the cursor's second) or not at all any more: either way not to be carried on.
    if (windowTo >= retriesListedBy) legacyRetries.clear();
    // A window of events is written down at once; empty ones (most of a first run's month) only with the next write.
    if (listed.length > 0) await saveProgress();
    // Narrowed once, the windows widen again where the events are sparse.
    if (listed.length <= EVENTS_PER_PIECE / 4) span = Math.min(WINDOW_SECONDS, span * 2);
    windowFrom = windowTo + 1;
  }
  await saveProgress();
  return { from, to, events, ...after(cursor, gap) };
}

/** A window, and what was listed of it: `count` events created from `newest` back to `listedDownTo`. */
interface ListedSoFar {
  readonly from: number;
  readonly to: number;
  newest?: number | undefined;
  listedDownTo: number;
  count: number;
}

/**
 * The width of the windows after one a whole run could not get through: a piece's worth of events at the pace of what
 * was listed of it, at most half of it; half of it when nothing was listed.
 */
function narrowedSpan(window: ListedSoFar): number {
  const span = window.to - window.from + 1;
  const listedSeconds = (window.newest ?? window.to) - Math.max(window.from, window.listedDownTo) + 1;
  const fits = window.count === 0 ? span : Math.floor((EVENTS_PER_PIECE * Math.max(1, listedSeconds)) / window.count);
  return Math.max(1, Math.min(Math.floor(span / 2), fits));
}

function spanOf(span: ReconcileSpan, cursor: EventCursor | undefined, now: number): { from: number; to: number } {
  if (span.kind === 'range') return { from: span.from, to: span.to };
  const oldestListed = now - EVENT_LIST_RETENTION_SECONDS;
  return { from: Math.max(oldestListed, cursor === undefined ? oldestListed : cursor.resumeAt - OVERLAP_SECONDS), to: now - SETTLE_SECONDS };
}

function after(cursor: EventCursor | undefined, gap: ReconcileResult<unknown>['gap']): Pick<ReconcileResult<unknown>, 'cursor' | 'gap'> {
  return { ...(cursor && { cursor }), ...(gap && { gap }) };
}

function summaryOf(event: ListedEvent): ListedEventSummary {
  return { id: event.id, type: event.type, created: event.created };
}

/**
 * The provider did not answer a refund stored before it was asked (by this processing or a traveller's return), directly
 * or as the processing's RetryLaterError: the refunds due ask again. Not a question asked before anything was written
 * (UnansweredBeforeWritingError), after which nothing of the event stands but the event itself.
 */
function isRefundProviderFailure(error: unknown): boolean {
  if (error instanceof UnansweredBeforeWritingError) return false;
  return error instanceof PaymentGatewayUnavailableError || (error instanceof RetryLaterError && error.cause instanceof PaymentGatewayUnavailableError);
}

/** Failures after which the same event may well go through: the ones a webhook delivery answers 500 to. */
function isRetryable(error: unknown): boolean {
  return error instanceof RetryLaterError || error instanceof PaymentGatewayUnavailableError || error instanceof StoreUnavailableError;
}

/**
 * `again`: processed again although its record exists, as a redelivery would be: every event of a range, and a retry
 * the cursor of the version before holds. Throws what the processing threw when nothing of it stands but what the next
 * sweep redoes: no record of the event, or (for that legacy retry, whose stored refund may be in no list of refunds due
 * yet) a failure other than the provider's.
 */
async function reconcileOne<Processed>(
  deps: ReconcileDeps<Processed>,
  event: ListedEvent,
  again: 'range' | 'legacy_retry' | undefined,
  watch: CommitWatch,
  settled: number,
): Promise<ReconciledEvent<Processed>> {
  const summary = summaryOf(event);
  const recordedBefore = await isRecorded(deps.store, event.id);
  if (recordedBefore && again === undefined) return { status: 'already_processed', event: summary };
  let processed: Processed;
  try {
    processed = await deps.process(event.json, watch);
  } catch (error) {
    // Written by this processing, or by another one meanwhile (a delivery, a second sweep) whose refund this one asked for;
    // or the provider failed on a refund it (or a traveller's return) stored first.
    const recorded =
      again === 'legacy_retry' ? watch.recordedHere : recordedBefore || watch.recordedHere || (await isRecorded(deps.store, event.id).catch(() => false));
    if (!recorded && !isRefundProviderFailure(error)) throw error;
    return { status: 'deferred', event: summary, error, recordedBefore, missedDelivery: missedDelivery(event, watch, settled) };
  }
  const answer = deps.answerOf(processed);
  if (!recordedBefore && !watch.recordedHere && answer) await recordAnswer(deps.clock, event, answer, watch);
  return { status: 'processed', event: summary, processed, recordedBefore, acted: watch.acted, missedDelivery: missedDelivery(event, watch, settled) };
}

async function isRecorded(store: ReconcileStore, eventId: string): Promise<boolean> {
  const [record, unusable] = await Promise.all([store.getProcessedEvent(eventId), store.getUnusableEvent(eventId)]);
  return record !== undefined || unusable !== undefined;
}

/**
 * Lost, not merely answered without a record, nor on its way: this sweep wrote the event's record, the provider still
 * has a delivery of it that did not go through, and it was created at or before `settled` (SETTLE_SECONDS ago). Whether
 * the webhook took it is the provider's to say, not the records': some answers of ours write none.
 */
function missedDelivery(event: ListedEvent, watch: CommitWatch, settled: number): boolean {
  return watch.recordedHere && event.pendingDeliveries > 0 && event.created <= settled;
}

/** The event's processed-event record, written by the sweep under "must not exist": a delivery that records it first wins, uncounted. */
async function recordAnswer(clock: Clock, event: ListedEvent, answer: ProcessedAnswer, watch: CommitWatch): Promise<void> {
  const now = clock.now();
  const marker = { eventId: event.id, eventType: event.type, expiresAt: Math.floor(now.getTime() / 1000) + PROCESSED_EVENT_RETENTION_DAYS * 86_400 };
  const record = processedEventRecord(marker, answer.outcome, {
    tripId: answer.tripId,
    ...(answer.references && { references: answer.references }),
    at: now.toISOString(),
  });
  await watch.commit({ at: now.toISOString(), processedEvent: record });
}

/**
 * The store as one event's processing sees it, every call passed through: it notes whether a commit went through, and
 * whether one carried the event's own record (processed-event, or a first unusable-event record) — the record a live
 * delivery would have written first, had one been processed.
 */
class CommitWatch implements BookingStore {
  acted = false;
  recordedHere = false;

  constructor(
    private readonly store: BookingStore,
    private readonly eventId: string,
  ) {}

  async commit(write: AtomicWrite): Promise<AtomicWriteResult> {
    const result = await this.store.commit(write);
    if (result.committed) {
      this.acted = true;
      const unusable = write.unusableEvent;
      const recordsEvent =
        write.processedEvent?.eventId === this.eventId || (unusable?.expectedStatus === undefined && unusable?.event.eventId === this.eventId);
      if (recordsEvent) this.recordedHere = true;
    }
    return result;
  }

  getTrip(...args: Parameters<BookingStore['getTrip']>) {
    return this.store.getTrip(...args);
  }
  createTrip(...args: Parameters<BookingStore['createTrip']>) {
    return this.store.createTrip(...args);
  }
  getSlots(...args: Parameters<BookingStore['getSlots']>) {
    return this.store.getSlots(...args);
  }
  getBookings(...args: Parameters<BookingStore['getBookings']>) {
    return this.store.getBookings(...args);
  }
  getPaymentRecord(...args: Parameters<BookingStore['getPaymentRecord']>) {
    return this.store.getPaymentRecord(...args);
  }
  findTripByPayment(...args: Parameters<BookingStore['findTripByPayment']>) {
    return this.store.findTripByPayment(...args);
  }
  getUnusableEvent(...args: Parameters<BookingStore['getUnusableEvent']>) {
    return this.store.getUnusableEvent(...args);
  }
  listExpiredHolds(...args: Parameters<BookingStore['listExpiredHolds']>) {
    return this.store.listExpiredHolds(...args);
  }
  claimProviderCheck(...args: Parameters<BookingStore['claimProviderCheck']>) {
    return this.store.claimProviderCheck(...args);
  }
}
