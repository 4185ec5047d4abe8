// Lambda entry point of the hold sweeper (a schedule, every minute): gives the seats of expired checkouts back to sale.
import { randomIds, systemClock } from '../shared/domain/collaborators';
import { releaseExpiredHolds } from '../shared/domain/release-holds';
import { configuredStore } from '../shared/dynamodb/configured-store';
import { loadTableConfig } from '../shared/config';
import { createLogger } from '../shared/observability';

const config = loadTableConfig();
const logger = createLogger();
const store = configuredStore(config);

export async function handler(): Promise<{ released: number; alreadySettled: number }> {
  const result = await releaseExpiredHolds({ store, clock: systemClock, ids: randomIds });
  if (result.released.length > 0) logger.info('Released expired holds', { released: result.released.length, trips: result.released });
  for (const { tripId, problem } of result.unreadableTrips) {
    logger.error('A stored trip no longer reads: its expired hold was released, the trip left as it is', { tripId, problem });
  }
  return { released: result.released.length, alreadySettled: result.alreadySettled.length };
}
