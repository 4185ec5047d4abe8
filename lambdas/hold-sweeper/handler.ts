// Lambda entry point of the hold sweeper (a schedule, every minute): gives the seats of expired checkouts back to sale.
import { randomIds, systemClock } from '../shared/domain/collaborators';
import { releaseExpiredHolds } from '../shared/domain/release-holds';
import { configuredStore } from '../shared/dynamodb/configured-store';
import { loadTableConfig } from '../shared/config';
import { COUNTED_LOG_LINES, createLogger } from '../shared/observability';

const config = loadTableConfig();
const logger = createLogger();
const store = configuredStore(config);

export async function handler(): Promise<{ released: number; alreadySettled: number }> {
  const result = await releaseExpiredHolds({ store, clock: systemClock, ids: randomIds });
  if (result.released.length > 0) logger.info('Released expired holds', { released: result.released.length, trips: result.released });
  // Counted as UnreadableTrips (alarmed) by the stack's metric filter on this line: this function publishes no metrics.
  for (const { tripId, problem } of result.unreadableTrips) logger.error(COUNTED_LOG_LINES.sweptUnreadableTrip.message, { tripId, problem });
  // Counted as UnusableSlots (alarmed), likewise.
  for (const { tripId, slotIds, problem } of result.heldByUnusableSlots) {
    logger.error(COUNTED_LOG_LINES.sweptHoldOnUnusableSlot.message, { tripId, slotIds, problem });
  }
  return { released: result.released.length, alreadySettled: result.alreadySettled.length };
}
