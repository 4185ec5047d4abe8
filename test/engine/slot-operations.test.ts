// The slot operator's use cases at their edges, on DynamoDB Local: no slot on a day that has passed, one capacity rule for adding and resizing, a block audited once.
import { describe, expect, it } from 'vitest';
import { addSlot, MAX_SLOT_CAPACITY, setSlotBlocked, setSlotCapacity } from '../../lambdas/shared/domain/operations';
import { holdFirstCommit } from '../support/held-store';
import { deps, readSlot, seedSlot, testStore, uniqueId } from '../support/store';

const newSlot = (change: { date?: string; capacity?: number } = {}) => ({
  slotId: uniqueId('slot'),
  experienceId: uniqueId('exp'),
  date: '2027-05-01',
  time: '09:00',
  capacity: 4,
  priceAmount: 1_000,
  currency: 'eur',
  ...change,
});

describe('slot operations', () => {
  it('refuses a slot on a day that has passed, and takes one today', async () => {
    const store = testStore();
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const today = new Date().toISOString().slice(0, 10);

    const past = await addSlot(deps(store), newSlot({ date: yesterday }), 'ana');
    const current = await addSlot(deps(store), newSlot({ date: today }), 'ana');

    expect(past).toMatchObject({ ok: false, errorCode: 'VALIDATION_FAILED', field: 'date' });
    expect(current.ok).toBe(true);
  });

  it.each([0, MAX_SLOT_CAPACITY + 1, 1.5])('refuses capacity %s on resizing as it would on adding', async (capacity) => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 3 });

    const resized = await setSlotCapacity(deps(store), slot.slotId, capacity, 'ana');

    expect(resized).toMatchObject({ ok: false, errorCode: 'VALIDATION_FAILED', field: 'capacity' });
    expect(await readSlot(store, slot.slotId)).toMatchObject({ capacity: 3, availableCount: 3 });
  });

  it('blocks a blocked slot without a second audit entry', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 3 });

    const first = await setSlotBlocked(deps(store), slot.slotId, true, 'ana');
    const second = await setSlotBlocked(deps(store), slot.slotId, true, 'ana');

    expect([first, second]).toEqual([
      { ok: true, changed: true },
      { ok: true, changed: false },
    ]);
    expect((await store.listAudit('slot', slot.slotId)).filter((entry) => entry.eventType === 'slot.blocked')).toHaveLength(1);
  });

  it('blocks a slot once when two runs block it at once: the one that read it open and wrote second finds it already so', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 3 });

    // The first run has read the slot open and is about to write when the second runs from start to end.
    const held = holdFirstCommit(store);
    const first = setSlotBlocked(deps(held.store), slot.slotId, true, 'ana');
    await held.reached;
    const second = await setSlotBlocked(deps(store), slot.slotId, true, 'ben');
    held.release();

    expect([await first, second]).toEqual([
      { ok: true, changed: false },
      { ok: true, changed: true },
    ]);
    expect((await readSlot(store, slot.slotId))?.isBlocked).toBe(true);
    const audited = (await store.listAudit('slot', slot.slotId)).filter((entry) => entry.eventType === 'slot.blocked');
    expect(audited.map((entry) => entry.actorId)).toEqual(['ben']);
  });

  it('unblocks a slot once when two runs unblock it at once', async () => {
    const store = testStore();
    const slot = await seedSlot(store, { capacity: 3 });
    await setSlotBlocked(deps(store), slot.slotId, true, 'ana');

    const held = holdFirstCommit(store);
    const first = setSlotBlocked(deps(held.store), slot.slotId, false, 'ana');
    await held.reached;
    const second = await setSlotBlocked(deps(store), slot.slotId, false, 'ben');
    held.release();

    expect([await first, second]).toEqual([
      { ok: true, changed: false },
      { ok: true, changed: true },
    ]);
    expect((await readSlot(store, slot.slotId))?.isBlocked).toBe(false);
    expect((await store.listAudit('slot', slot.slotId)).map((entry) => entry.eventType).filter((type) => type !== 'slot.created')).toEqual([
      'slot.blocked',
      'slot.unblocked',
    ]);
  });
});
