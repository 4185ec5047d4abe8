// Operator commands on slots: add, list, block or unblock, and change a slot's capacity.
import { unheldSeats, type Slot } from '../../../lambdas/shared/domain/model';
import { addSlot, capacitySchema, MAX_SLOT_CAPACITY, newSlotSchema, setSlotBlocked, setSlotCapacity } from '../../../lambdas/shared/domain/operations';
import { parseInput } from '../../../lambdas/shared/domain/trip-input';
import { defineCommand, UsageError, wholeNumber, type OpsCommand } from '../command';
import type { StoredDataError } from '../../../lambdas/shared/domain/errors';
import type { OpsContext } from '../context';
import { money } from '../printing';

const SLOT_COLUMNS = ['slotId', 'experienceId', 'date', 'time', 'capacity', 'availableCount', 'held', 'isBlocked', 'price'];

const slotRow = (slot: Slot) => ({ ...slot, held: slot.availableCount - unheldSeats(slot), price: money(slot.priceAmount, slot.currency) });

const printSlot = (context: OpsContext, slot: Slot): void => context.print(slot, [slotRow(slot)], SLOT_COLUMNS);

/** The same rule on `slots add` and `slots set-capacity`: the use case's, checked before anything is read. */
function capacityOf(value: string, flag: string): number {
  const capacity = wholeNumber(value, flag);
  const valid = capacitySchema.safeParse(capacity);
  if (!valid.success) throw new UsageError(`${flag} ${valid.error.issues[0]?.message ?? 'is invalid'}, got ${value}`);
  return capacity;
}

/** The flag that carries each of the new slot's fields, so a refusal names what the operator typed. */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  slotId: '--id',
  experienceId: '--experience',
  date: '--date',
  time: '--time',
  capacity: '--capacity',
  priceAmount: '--price',
  currency: '--currency',
};

const add = defineCommand({
  name: 'slots add',
  summary: 'a new slot of an experience, audited',
  flags: {
    experience: { type: 'string', value: 'ID', required: true, description: 'the experience it belongs to' },
    date: { type: 'string', value: 'YYYY-MM-DD', required: true, description: 'the day it takes place, today or later' },
    time: { type: 'string', value: 'HH:MM', required: true, description: 'when it starts' },
    capacity: { type: 'string', value: 'N', required: true, description: `the seats it has, 1 to ${MAX_SLOT_CAPACITY}` },
    price: { type: 'string', value: 'CENTS', required: true, description: 'the price a guest, in the currency’s smallest unit' },
    currency: { type: 'string', value: 'EUR', required: true, description: 'ISO 4217, any case' },
    id: { type: 'string', value: 'ID', description: 'the slot id; a fresh one when absent' },
  },
  async run(context, { flags }) {
    const input = parseInput(newSlotSchema, {
      ...(flags.id !== undefined && { slotId: flags.id }),
      experienceId: flags.experience,
      date: flags.date,
      time: flags.time,
      capacity: capacityOf(flags.capacity, '--capacity'),
      priceAmount: wholeNumber(flags.price, '--price'),
      currency: flags.currency.toLowerCase(),
    });
    if (!input.ok) {
      const field = input.field ?? '';
      throw new UsageError(input.message.replace(field, FLAG_OF_FIELD[field] ?? field));
    }
    const result = await addSlot(context.deps, input.value, context.actor);
    if (!result.ok) return context.refused({ ...result, message: result.message.replace(result.field ?? '', FLAG_OF_FIELD[result.field ?? ''] ?? '') });
    printSlot(context, result.slot);
    return 0;
  },
});

const list = defineCommand({
  name: 'slots list',
  summary: 'every slot, or an experience’s',
  flags: { experience: { type: 'string', value: 'ID', description: 'only this experience’s slots' } },
  async run({ store, json, out, print, err }, { flags }) {
    // A slot that no longer reads is named on stderr and the others are listed: the listing is short of it, so exit 1.
    let unusable = 0;
    const onUnusable = (problem: StoredDataError): void => {
      unusable++;
      err(`warning: ${problem.message}`);
    };
    const slots = flags.experience ? await store.listSlotsOfExperience(flags.experience, onUnusable) : await store.listAllSlots(onUnusable);
    if (!json && slots.length === 0) out(flags.experience ? `No slots of ${flags.experience}.` : 'No slots yet: add one with slots add.');
    else print(slots, slots.map(slotRow), SLOT_COLUMNS);
    return unusable > 0 ? 1 : 0;
  },
});

const blocking = (verb: 'block' | 'unblock', isBlocked: boolean, summary: string): OpsCommand =>
  defineCommand({
    name: `slots ${verb}`,
    target: { synopsis: 'ID', needs: 'a slot id' },
    summary,
    flags: {},
    async run(context, { target: slotId }) {
      const result = await setSlotBlocked(context.deps, slotId, isBlocked, context.actor);
      if (!result.ok) return context.refused(result);
      context.print(
        { slotId, isBlocked, changed: result.changed },
        [{ slotId, isBlocked, changed: result.changed ? 'yes' : 'no (already so)' }],
        ['slotId', 'isBlocked', 'changed'],
      );
      return 0;
    },
  });

const setCapacity = defineCommand({
  name: 'slots set-capacity',
  target: { synopsis: 'ID N', needs: 'a slot id and a capacity' },
  summary: 'capacity and availability change together, never below the seats booked',
  flags: {},
  async run(context, { target: slotId, more: [capacityText] }) {
    if (capacityText === undefined) throw new UsageError('slots set-capacity needs a slot id and a capacity');
    const result = await setSlotCapacity(context.deps, slotId, capacityOf(capacityText, 'the capacity N'), context.actor);
    if (!result.ok) return context.refused(result);
    printSlot(context, result.slot);
    return 0;
  },
});

export const slotCommands: readonly OpsCommand[] = [
  add,
  list,
  blocking('block', true, 'no new bookings on the slot, audited'),
  blocking('unblock', false, 'bookable again, audited'),
  setCapacity,
];
