// Operator command on holds: the seats checkouts hold while their payment is awaited.
import { defineCommand, type OpsCommand } from '../command';

const list = defineCommand({
  name: 'holds list',
  summary: 'seats held by checkouts waiting for their payment, soonest expiry first',
  flags: {},
  async run({ store, json, out, print }) {
    const holds = await store.listActiveHolds();
    const rows = holds.map((hold) => ({
      expiresAt: hold.expiresAt,
      tripId: hold.tripId,
      seats: hold.seats.map(({ slotId, guests }) => `${slotId}:${guests}`).join(' '),
    }));
    if (!json && rows.length === 0) out('No seats are held.');
    else print(holds, rows, ['expiresAt', 'tripId', 'seats']);
    return 0;
  },
});

export const holdCommands: readonly OpsCommand[] = [list];
