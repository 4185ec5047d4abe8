// Operator commands on slots: add, list, block or unblock, and change a slot's capacity.
import { unheldSeats, type Slot } from '../../../lambdas/shared/domain/model';
import { addSlot, newSlotSchema, setSlotBlocked, setSlotCapacity } from '../../../lambdas/shared/domain/operations';
import { parseInput } from '../../../lambdas/shared/domain/trip-input';
import { defineCommand, UsageError, type OpsCommand } from '../command';
import type { OpsContext } from '../context';
import { money } from '../printing';

const SLOT_COLUMNS = ['slotId', 'experienceId', 'date', 'time', 'capacity', 'availableCount', 'held', 'isBlocked', 'price'];

const slotRow = (slot: Slot) => ({ ...slot, held: slot.availableCount - unheldSeats(slot), price: money(slot.priceAmount, slot.currency) });

const printSlot = (context: OpsContext, slot: Slot): void => context.print(slot, [slotRow(slot)], SLOT_COLUMNS);

function wholeNumber(value: string, name: string): number {
  if (!/^-?\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  return Number(value);
}

const add = defineCommand({
  name: 'slots add',
  summary: 'a new slot of an experience, audited',
  flags: {
    experience: { type: 'string', value: 'ID', required: 'by-use-case', description: 'the experience it belongs to' },
    date: { type: 'string', value: 'YYYY-MM-DD', required: 'by-use-case', description: 'the day it takes place' },
    time: { type: 'string', value: 'HH:MM', required: 'by-use-case', description: 'when it starts' },
    capacity: { type: 'string', value: 'N', required: true, description: 'the seats it has' },
    price: { type: 'string', value: 'CENTS', required: true, description: 'the price a guest, in the currency’s smallest unit' },
    currency: { type: 'string', value: 'eur', required: 'by-use-case', description: 'as Stripe spells it' },
    id: { type: 'string', value: 'ID', description: 'the slot id; a fresh one when absent' },
  },
  async run(context, { flags }) {
    const input = parseInput(newSlotSchema, {
      ...(flags.id && { slotId: flags.id }),
      experienceId: flags.experience,
      date: flags.date,
      time: flags.time,
      capacity: wholeNumber(flags.capacity, 'capacity'),
      priceAmount: wholeNumber(flags.price, 'price'),
      currency: flags.currency,
    });
    const result = input.ok ? await addSlot(context.deps, input.value, context.actor) : input;
    if (!result.ok) return context.refused(result);
    printSlot(context, result.slot);
    return 0;
  },
});

const list = defineCommand({
  name: 'slots list',
  summary: 'every slot, or an experience’s',
  flags: { experience: { type: 'string', value: 'ID', description: 'only this experience’s slots' } },
  async run({ store, print, err }, { flags }) {
    const slots = flags.experience
      ? await store.listSlotsOfExperience(flags.experience)
      : await store.listAllSlots((problem) => err(`warning: ${problem.message}`));
    print(slots, slots.map(slotRow), SLOT_COLUMNS);
    return 0;
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
      context.print({ slotId, isBlocked }, [{ slotId, isBlocked }], ['slotId', 'isBlocked']);
      return 0;
    },
  });

const setCapacity = defineCommand({
  name: 'slots set-capacity',
  target: { synopsis: 'ID N', needs: 'a slot id and a capacity' },
  summary: 'capacity and availability change together, never below the seats booked',
  flags: {},
  async run(context, { target: slotId, more: [capacityText] }) {
    if (capacityText === undefined || !/^-?\d+$/.test(capacityText)) throw new UsageError(`the capacity must be a whole number, got "${capacityText ?? ''}"`);
    if (Number(capacityText) < 0) throw new UsageError(`the capacity must not be negative, got ${capacityText}`);
    const result = await setSlotCapacity(context.deps, slotId, Number(capacityText), context.actor);
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
