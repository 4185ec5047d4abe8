// reconcileEvents over DynamoDB Local, with a list of events of the test's making and a processing that fails where told:
// where the cursor stops, what a restart processes again, a failure after an event's record, the deadline, the windows, a
// range sweep, a cursor too old, and the mode the cursor keeps.
import { describe, expect, it, vi } from 'vitest';
import type { BookingStore } from '../../lambdas/shared/domain/booking-store';
import type { Clock } from '../../lambdas/shared/domain/collaborators';
import { RetryLaterError } from '../../lambdas/shared/domain/payment-events';
import { PaymentGatewayUnavailableError } from '../../lambdas/shared/domain/payment-gateway';
import type { EventListQuery, ListedEvent, PaymentEventSource } from '../../lambdas/shared/domain/payment-gateway';
import {
  EVENT_LIST_RETENTION_SECONDS,
  EVENTS_PER_PIECE,
  OVERLAP_SECONDS,
  reconcileEvents,
  SETTLE_SECONDS,
  WINDOW_SECONDS,
  type ReconcileSpan,
} from '../../lambdas/shared/domain/reconcile-events';
import { testStore, uniqueId } from '../support/store';

const NOW_S = Math.floor(Date.now() / 1000);
const clock: Clock = { now: () => new Date(NOW_S * 1000) };
/** An hour ago: well past the settle delay. */
const T = NOW_S - 3_600;
const TYPES = ['checkout.session.completed'];

const store = testStore();

/**
 * Stripe's list as the test makes it: every query kept, the events of the range answered oldest first; past `atMost`
 * (counted in pages of 100, newest first, as Stripe's are listed), what was listed and where it was cut.
 */
function eventSource(events: readonly ListedEvent[]): PaymentEventSource & { queries: EventListQuery[] } {
  const queries: EventListQuery[] = [];
  return {
    queries,
    async listEvents(query) {
      queries.push(query);
      const matching = events
        .filter((event) => event.created >= query.createdFrom && event.created <= query.createdTo && query.types.includes(event.type))
        .sort((a, b) => a.created - b.created);
      // Newest first, going on after `after`, a piece of `atMost` (in whole pages of 100) at most.
      const newestFirst = [...matching].reverse();
      const start = query.after === undefined ? 0 : newestFirst.findIndex((event) => event.id === query.after) + 1;
      const rest = newestFirst.slice(start);
      const pages = query.atMost === undefined ? undefined : Math.ceil(query.atMost / 100) * 100;
      if (pages !== undefined && rest.length > pages) {
        const piece = rest.slice(0, pages);
        const last = piece.at(-1) as ListedEvent;
        return { events: piece.reverse(), listedDownTo: last.created, lastId: last.id };
      }
      return rest.reverse();
    },
  };
}

/** An event whose delivery Stripe has not got through (what a sweep that finds it unrecorded counts as missed). */
function listed(created: number): ListedEvent {
  const id = `evt_${uniqueId('e').replace(/-/g, '')}`;
  return { id, type: 'checkout.session.completed', created, pendingDeliveries: 1, json: { id } };
}

/**
 * A processing that writes the event's processed-event record (as a booking would) and answers its id; it throws
 * RetryLaterError for the ids in `failing`, after the record when `afterRecord` (a refund Stripe did not take).
 */
function processing(failing: Set<string> = new Set(), options: { afterRecord?: boolean } = {}) {
  const seen: string[] = [];
  const process = async (json: unknown, through: BookingStore): Promise<string> => {
    const { id } = json as { id: string };
    seen.push(id);
    if (failing.has(id) && !options.afterRecord) throw new RetryLaterError('Stripe did not answer');
    const at = clock.now().toISOString();
    // A write of its own each time (as a real one is, with fresh audit ids), not a replay of the last one's request token.
    const references = [uniqueId('PL')];
    await through.commit({
      at,
      processedEvent: { eventId: id, eventType: 'checkout.session.completed', outcome: 'booked', references, processedAt: at, expiresAt: NOW_S + 86_400 },
    });
    if (failing.has(id)) throw new RetryLaterError('Stripe did not answer');
    return id;
  };
  return { process, seen };
}

function sweep(events: PaymentEventSource, process: (json: unknown, store: BookingStore) => Promise<string>, span: ReconcileSpan, timeLeft?: () => number) {
  return reconcileEvents({ store, events, clock, process, answerOf: () => ({ outcome: 'booked' }) }, { span, types: TYPES, ...(timeLeft && { timeLeft }) });
}

describe('a scheduled sweep that meets a failure', () => {
  it('stops at an event that failed before its record, leaves the cursor at its second, and the next sweep processes it', async () => {
    const source = uniqueId('cursor');
    const [a, b, c] = [listed(T), listed(T + 1), listed(T + 1)] as [ListedEvent, ListedEvent, ListedEvent];
    const events = eventSource([a, b, c]);
    const failing = processing(new Set([b.id]));

    const first = await sweep(events, failing.process, { kind: 'cursor', source, mode: 'test' });
    const afterward = processing();
    const second = await sweep(events, afterward.process, { kind: 'cursor', source, mode: 'test' });

    expect(failing.seen).toEqual([a.id, b.id]);
    expect(first.stopped).toMatchObject({ reason: 'failed', event: { id: b.id }, retryable: true });
    expect(first.cursor).toEqual({ source, resumeAt: T + 1, mode: 'test', updatedAt: clock.now().toISOString() });
    expect(afterward.seen).toEqual([b.id, c.id]);
    expect(second.events.map((event) => [event.event.id, event.status])).toEqual([
      [a.id, 'already_processed'],
      [b.id, 'processed'],
      [c.id, 'processed'],
    ]);
    expect(second.events[1]).toMatchObject({ status: 'processed', recordedBefore: false, missedDelivery: true });
    expect(second.stopped).toBeUndefined();
    expect(second.cursor).toEqual({ source, resumeAt: NOW_S - SETTLE_SECONDS + 1, mode: 'test', updatedAt: clock.now().toISOString() });
  });

  it('goes on past an event that failed after its record (a refund left requested), which no later sweep processes again', async () => {
    const source = uniqueId('cursor');
    const [a, b, c] = [listed(T), listed(T + 1), listed(T + 2)] as [ListedEvent, ListedEvent, ListedEvent];
    const events = eventSource([a, b, c]);
    const failing = processing(new Set([b.id]), { afterRecord: true });

    const first = await sweep(events, failing.process, { kind: 'cursor', source, mode: 'test' });
    const afterward = processing();
    const second = await sweep(events, afterward.process, { kind: 'cursor', source, mode: 'test' });

    expect(failing.seen).toEqual([a.id, b.id, c.id]);
    expect(first.stopped).toBeUndefined();
    expect(first.events[1]).toMatchObject({ status: 'deferred', event: { id: b.id }, recordedBefore: false, missedDelivery: true });
    expect(first.events[1]).toHaveProperty('error', expect.any(RetryLaterError));
    expect(first.cursor?.resumeAt).toBe(NOW_S - SETTLE_SECONDS + 1);
    // Its refund is for resumeRequestedRefunds to ask again, not for the sweep: nothing is processed twice.
    expect(afterward.seen).toEqual([]);
    expect(second.events).toEqual([]);
    expect(second.stopped).toBeUndefined();
  });

  it('keeps the cursor where it stands when an event that showed up late (before the cursor) fails, and the next sweep processes it', async () => {
    const source = uniqueId('cursor');
    const late = listed(T);
    await store.moveEventCursor({ source, resumeAt: T + 10, mode: 'test', updatedAt: clock.now().toISOString() });
    const events = eventSource([late]);
    const moves = vi.spyOn(store, 'moveEventCursor');

    const first = await sweep(events, processing(new Set([late.id])).process, { kind: 'cursor', source, mode: 'test' });
    const written = moves.mock.calls.filter(([cursor]) => cursor.source === source).length;
    moves.mockRestore();
    const again = processing();
    const second = await sweep(events, again.process, { kind: 'cursor', source, mode: 'test' });

    expect(first.stopped).toMatchObject({ reason: 'failed', event: { id: late.id } });
    expect(first.cursor).toMatchObject({ resumeAt: T + 10 });
    expect(written).toBe(0);
    expect(again.seen).toEqual([late.id]);
    expect(second.events).toEqual([expect.objectContaining({ status: 'processed', recordedBefore: false })]);
  });

  it('stays where it was when Stripe cannot list the events', async () => {
    const source = uniqueId('cursor');
    const stored = { source, resumeAt: T, mode: 'test' as const, updatedAt: clock.now().toISOString() };
    await store.moveEventCursor(stored);
    const unavailable: PaymentEventSource = {
      listEvents: () => Promise.reject(new RetryLaterError('Stripe did not list the events')),
    };

    const result = await sweep(unavailable, processing().process, { kind: 'cursor', source, mode: 'test' });

    expect(result.stopped).toMatchObject({ reason: 'failed', retryable: true });
    expect(result.stopped).not.toHaveProperty('event');
    expect(await store.getEventCursor(source)).toEqual(stored);
  });

  it('writes the mode it runs in on the cursor, even when the cursor does not move (a deployment switched to live keys)', async () => {
    const source = uniqueId('cursor');
    await store.moveEventCursor({ source, resumeAt: NOW_S - SETTLE_SECONDS + 1, mode: 'test', updatedAt: clock.now().toISOString() });

    const result = await sweep(eventSource([]), processing().process, { kind: 'cursor', source, mode: 'live' });

    expect(result.cursor).toMatchObject({ resumeAt: NOW_S - SETTLE_SECONDS + 1, mode: 'live' });
    expect(await store.getEventCursor(source)).toMatchObject({ mode: 'live' });
  });
});

describe('a scheduled sweep out of time', () => {
  it('begins no further event, and leaves the cursor at the first one not begun, with nothing to retry', async () => {
    const source = uniqueId('cursor');
    await store.moveEventCursor({ source, resumeAt: T, mode: 'test', updatedAt: clock.now().toISOString() });
    const [a, b, c] = [listed(T), listed(T + 5), listed(T + 9)] as [ListedEvent, ListedEvent, ListedEvent];
    const events = eventSource([a, b, c]);
    const work = processing();
    let checks = 0;

    // One window from the cursor: time to list it and begin its first event, none for the second.
    const result = await sweep(events, work.process, { kind: 'cursor', source, mode: 'test' }, () => (++checks <= 2 ? 1_000 : 0));
    const next = await sweep(events, work.process, { kind: 'cursor', source, mode: 'test' });

    expect(result.stopped).toEqual({ reason: 'out_of_time' });
    expect(result.cursor).toEqual({ source, resumeAt: T + 5, mode: 'test', updatedAt: clock.now().toISOString() });
    expect(work.seen).toEqual([a.id, b.id, c.id]);
    expect(next.events.map((event) => event.status)).toEqual(['already_processed', 'processed', 'processed']);
  });
});

describe('a window holding more events than one listing takes (the account’s other products send the same types)', () => {
  /** `count` events spread evenly over `seconds` from `start`. */
  const spread = (count: number, start: number, seconds: number): ListedEvent[] =>
    Array.from({ length: count }, (_, index) => listed(start + Math.floor((index * seconds) / count)));
  /** `source`, out of the run's time (as Stripe's client says it) from its call number `call` on. */
  const outOfTimeFrom = (source: PaymentEventSource, call: number): PaymentEventSource => {
    let calls = 0;
    return {
      listEvents: (query) =>
        ++calls >= call ? Promise.reject(new PaymentGatewayUnavailableError('too few ms left', { outOfTime: true })) : source.listEvents(query),
    };
  };

  it('is listed in pieces, nothing listed twice, every event processed once, oldest first, and the cursor moved past them', async () => {
    const source = uniqueId('cursor');
    await store.moveEventCursor({ source, resumeAt: T - 3_600, mode: 'test', updatedAt: clock.now().toISOString() });
    const all = spread(EVENTS_PER_PIECE + 200, T - 1_800, 1_800);
    const events = eventSource(all);
    const work = processing();

    const result = await sweep(events, work.process, { kind: 'cursor', source, mode: 'test' });

    expect(result.stopped).toBeUndefined();
    expect(work.seen).toEqual(all.map((event) => event.id));
    expect(result.events.every((event) => event.status === 'processed')).toBe(true);
    expect(result.cursor?.resumeAt).toBe(NOW_S - SETTLE_SECONDS + 1);
    // The window's newest 1,000, then the rest of it, going on after the last of them.
    const [first, rest] = events.queries;
    expect(first).toMatchObject({ createdFrom: T - 3_600 - OVERLAP_SECONDS, atMost: EVENTS_PER_PIECE });
    expect(first).not.toHaveProperty('after');
    expect(rest).toEqual({ ...first, after: all[200]?.id });
    expect(events.queries).toHaveLength(2);
  });

  it('processes once more an event the cursor of the version before held for retry, though the first window (narrowed before) ends before its second', async () => {
    const source = uniqueId('cursor');
    const held = listed(T);
    await store.commit({
      at: clock.now().toISOString(),
      processedEvent: {
        eventId: held.id,
        eventType: held.type,
        outcome: 'refund_pending',
        references: [],
        processedAt: clock.now().toISOString(),
        expiresAt: NOW_S + 86_400,
      },
    });
    await store.moveEventCursor({ source, resumeAt: T, mode: 'test', retryEventIds: [held.id], windowSeconds: 300, updatedAt: clock.now().toISOString() });
    const events = eventSource([listed(T - 500), held]);
    const work = processing();

    const result = await sweep(events, work.process, { kind: 'cursor', source, mode: 'test' });

    expect(events.queries[0]?.createdTo).toBeLessThan(T);
    expect(work.seen.filter((id) => id === held.id)).toHaveLength(1);
    expect(result.events.find((event) => event.event.id === held.id)).toMatchObject({ status: 'processed', recordedBefore: true });
    expect(await store.getEventCursor(source)).not.toHaveProperty('retryEventIds');
  });

  it('a window a whole run could not list: narrowed for the next run at the pace of what was listed (kept on the cursor), not stalled; the next run gets through, and one starting narrowed that gets nowhere is stalled', {
    timeout: 120_000,
  }, async () => {
    const source = uniqueId('cursor');
    await store.moveEventCursor({ source, resumeAt: T - 3_600, mode: 'test', updatedAt: clock.now().toISOString() });
    const all = spread(3 * EVENTS_PER_PIECE, T - 1_800, 1_800);
    const events = eventSource(all);
    const work = processing();

    // Time runs out after the window's first two pieces.
    const short = await sweep(outOfTimeFrom(events, 3), work.process, { kind: 'cursor', source, mode: 'test' });
    const kept = (await store.getEventCursor(source))?.windowSeconds ?? WINDOW_SECONDS;
    const begunInShort = work.seen.length;
    const queried = events.queries.length;
    const next = await sweep(events, work.process, { kind: 'cursor', source, mode: 'test' });

    expect(short).toMatchObject({ stopped: { reason: 'out_of_time' }, cursor: { resumeAt: T - 3_600 } });
    expect(short.stalled).toBeUndefined();
    expect(begunInShort).toBe(0);
    // 2,000 events came in the newest part of the window listed: a piece's worth is about half of that part's time.
    expect(kept).toBeLessThan(WINDOW_SECONDS / 2);
    expect(events.queries[queried]).toMatchObject({ createdFrom: T - 3_600 - OVERLAP_SECONDS, createdTo: T - 3_600 - OVERLAP_SECONDS + kept - 1 });
    expect(next.stalled).toBeUndefined();
    expect(next.stopped).toBeUndefined();
    expect(work.seen).toEqual(all.map((event) => event.id));

    // Set back where it was, narrowed, with time for no listing at all: stalled.
    await store.moveEventCursor({ source: `${source}-again`, resumeAt: T - 3_600, mode: 'test', windowSeconds: kept, updatedAt: clock.now().toISOString() });
    const stuck = await sweep(outOfTimeFrom(events, 1), work.process, { kind: 'cursor', source: `${source}-again`, mode: 'test' });
    expect(stuck).toMatchObject({ stopped: { reason: 'out_of_time' }, stalled: true });
  });

  it('on a first run (no cursor yet), a window it could not list leaves a cursor at the span’s start with the narrower width', async () => {
    const source = uniqueId('cursor');
    const oldest = NOW_S - EVENT_LIST_RETENTION_SECONDS;
    const all = spread(EVENTS_PER_PIECE + 200, oldest + 100, 1_800);
    const events = eventSource(all);

    const result = await sweep(outOfTimeFrom(events, 2), processing().process, { kind: 'cursor', source, mode: 'test' });

    expect(result).toMatchObject({ stopped: { reason: 'out_of_time' } });
    expect(result.stalled).toBeUndefined();
    const kept = await store.getEventCursor(source);
    expect(kept).toMatchObject({ resumeAt: result.from });
    expect(kept?.windowSeconds).toBeLessThan(WINDOW_SECONDS / 2);
  });

  it('listed, but no time left to begin its first event (in the overlap): nothing moved, so the next runs’ windows are narrower', async () => {
    const source = uniqueId('cursor');
    await store.moveEventCursor({ source, resumeAt: T, mode: 'test', updatedAt: clock.now().toISOString() });
    const all = [...spread(300, T - 500, 499), ...spread(900, T, 1_800)];
    const events = eventSource(all);
    let checks = 0;

    const result = await sweep(events, processing().process, { kind: 'cursor', source, mode: 'test' }, () => (++checks <= 1 ? 1_000 : 0));

    expect(result).toMatchObject({ stopped: { reason: 'out_of_time' }, cursor: { resumeAt: T } });
    expect(result.stalled).toBeUndefined();
    expect((await store.getEventCursor(source))?.windowSeconds).toBeLessThan(WINDOW_SECONDS / 2);
  });

  it('starting narrowed, a window it could not list at a pace it learned: narrowed further, not stalled (no false alarm)', async () => {
    const source = uniqueId('cursor');
    await store.moveEventCursor({ source, resumeAt: T - 3_600, mode: 'test', windowSeconds: 3 * 3_600, updatedAt: clock.now().toISOString() });
    const events = eventSource(spread(3 * EVENTS_PER_PIECE, T - 1_800, 1_800));

    const result = await sweep(outOfTimeFrom(events, 3), processing().process, { kind: 'cursor', source, mode: 'test' });

    expect(result).toMatchObject({ stopped: { reason: 'out_of_time' } });
    expect(result.stalled).toBeUndefined();
    expect((await store.getEventCursor(source))?.windowSeconds).toBeLessThan(3_600);
  });

  it('lists a second holding more than a piece across pieces, each of its events once', async () => {
    const source = uniqueId('cursor');
    await store.moveEventCursor({ source, resumeAt: T - 60, mode: 'test', updatedAt: clock.now().toISOString() });
    const before = listed(T - 1);
    const burst = Array.from({ length: EVENTS_PER_PIECE + 50 }, () => listed(T));
    const after = listed(T + 1);
    const events = eventSource([before, ...burst, after]);
    const work = processing();

    const result = await sweep(events, work.process, { kind: 'cursor', source, mode: 'test' });

    expect(result.stopped).toBeUndefined();
    expect(new Set(work.seen)).toEqual(new Set([before, ...burst, after].map((event) => event.id)));
    expect(work.seen).toHaveLength(burst.length + 2);
    expect(work.seen[0]).toBe(before.id);
    expect(work.seen.at(-1)).toBe(after.id);
    expect(events.queries).toHaveLength(2);
    expect(result.cursor?.resumeAt).toBe(NOW_S - SETTLE_SECONDS + 1);
  });

  it('out of time while processing a window listed in pieces: the cursor keeps what was done, and the next sweep goes on from there', async () => {
    const source = uniqueId('cursor');
    await store.moveEventCursor({ source, resumeAt: T - 3_600, mode: 'test', updatedAt: clock.now().toISOString() });
    const all = spread(EVENTS_PER_PIECE + 200, T - 1_800, 1_800);
    const events = eventSource(all);
    const work = processing();
    let checks = 0;

    const first = await sweep(events, work.process, { kind: 'cursor', source, mode: 'test' }, () => (++checks <= 600 ? 1_000 : 0));
    const done = work.seen.length;
    const second = await sweep(events, work.process, { kind: 'cursor', source, mode: 'test' });

    expect(first.stopped).toEqual({ reason: 'out_of_time' });
    expect(first.stalled).toBeUndefined();
    expect(done).toBeGreaterThan(0);
    expect(first.cursor?.resumeAt).toBeGreaterThan(T - 3_600);
    expect(second.stopped).toBeUndefined();
    expect(new Set(work.seen)).toEqual(new Set(all.map((event) => event.id)));
    // Begun once each; the second sweep listed again only the second the first stopped at.
    expect(work.seen.length).toBe(all.length);
  });
});

describe('the span of a sweep', () => {
  it('is, the first time, the 30 days Stripe keeps up to the settle delay, listed in contiguous windows, oldest first, the cursor written once at the end', async () => {
    const source = uniqueId('cursor');
    const events = eventSource([]);
    const moves = vi.spyOn(store, 'moveEventCursor');

    const result = await sweep(events, processing().process, { kind: 'cursor', source, mode: 'test' });

    expect([result.from, result.to]).toEqual([NOW_S - EVENT_LIST_RETENTION_SECONDS, NOW_S - SETTLE_SECONDS]);
    expect(events.queries[0]?.createdFrom).toBe(result.from);
    expect(events.queries.at(-1)?.createdTo).toBe(result.to);
    for (const [index, query] of events.queries.entries()) {
      expect(query.createdTo - query.createdFrom).toBeLessThan(WINDOW_SECONDS);
      if (index > 0) expect(query.createdFrom).toBe((events.queries[index - 1]?.createdTo ?? 0) + 1);
    }
    expect(events.queries).toHaveLength(Math.ceil((result.to - result.from + 1) / WINDOW_SECONDS));
    expect(moves.mock.calls.filter(([cursor]) => cursor.source === source)).toHaveLength(1);
    expect(result.cursor?.resumeAt).toBe(result.to + 1);
    moves.mockRestore();
  });

  it('goes on from the cursor less the overlap, and says so when the cursor is older than the events Stripe still lists', async () => {
    const recent = uniqueId('cursor');
    const ancient = uniqueId('cursor');
    await store.moveEventCursor({ source: recent, resumeAt: T, updatedAt: clock.now().toISOString() });
    await store.moveEventCursor({ source: ancient, resumeAt: NOW_S - 40 * 86_400, updatedAt: clock.now().toISOString() });

    const fromRecent = await sweep(eventSource([]), processing().process, { kind: 'cursor', source: recent, mode: 'test' });
    const fromAncient = await sweep(eventSource([]), processing().process, { kind: 'cursor', source: ancient, mode: 'test' });

    expect(fromRecent).toMatchObject({ from: T - OVERLAP_SECONDS, to: NOW_S - SETTLE_SECONDS });
    expect(fromRecent.gap).toBeUndefined();
    expect(fromAncient.from).toBe(NOW_S - EVENT_LIST_RETENTION_SECONDS);
    expect(fromAncient.gap).toEqual({ from: NOW_S - 40 * 86_400, to: NOW_S - EVENT_LIST_RETENTION_SECONDS - 1 });
  });

  it('processes, for an operator’s range, an event whose record exists again, as a redelivery, and says it was recorded before', async () => {
    const event = listed(T);
    const events = eventSource([event]);
    const work = processing();

    const first = await sweep(events, work.process, { kind: 'range', from: T, to: T });
    const again = await sweep(events, work.process, { kind: 'range', from: T, to: T });

    expect(work.seen).toEqual([event.id, event.id]);
    expect(first.events).toEqual([expect.objectContaining({ status: 'processed', recordedBefore: false, acted: true, missedDelivery: true })]);
    expect(again.events).toEqual([expect.objectContaining({ status: 'processed', recordedBefore: true, acted: false, missedDelivery: false })]);
  });

  it('is, for an operator’s range, exactly that range, and neither reads nor moves a cursor', async () => {
    const inRange = listed(T);
    const outside = listed(T + 100);
    const events = eventSource([inRange, outside]);
    const reads = vi.spyOn(store, 'getEventCursor');
    const moves = vi.spyOn(store, 'moveEventCursor');

    const result = await sweep(events, processing().process, { kind: 'range', from: T - 10, to: T + 99 });

    expect(result.events.map((event) => event.event.id)).toEqual([inRange.id]);
    expect(result.cursor).toBeUndefined();
    expect(reads).not.toHaveBeenCalled();
    expect(moves).not.toHaveBeenCalled();
    reads.mockRestore();
    moves.mockRestore();
  });
});

describe('what a sweep calls a missed delivery', () => {
  it('is an event it recorded that Stripe lists as not delivered, past the settle delay: not one the webhook took, nor a young one', async () => {
    const lost = listed(T);
    const taken = { ...listed(T), pendingDeliveries: 0 };
    const young = listed(NOW_S - SETTLE_SECONDS + 1);
    const work = processing();

    const result = await sweep(eventSource([lost, taken, young]), work.process, { kind: 'range', from: T, to: NOW_S });

    // All three are processed (and recorded) alike: only the counting tells them apart.
    expect(work.seen).toEqual([lost.id, taken.id, young.id]);
    expect(result.events).toEqual([
      expect.objectContaining({ event: expect.objectContaining({ id: lost.id }), status: 'processed', recordedBefore: false, missedDelivery: true }),
      expect.objectContaining({ event: expect.objectContaining({ id: taken.id }), status: 'processed', recordedBefore: false, missedDelivery: false }),
      expect.objectContaining({ event: expect.objectContaining({ id: young.id }), status: 'processed', recordedBefore: false, missedDelivery: false }),
    ]);
  });
});
