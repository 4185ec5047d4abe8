// A DynamoDB Local of a test's own, on disk, that the test can stop or kill and restart on the same port with its data.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDocumentClient } from '../../lambdas/shared/dynamodb/client';
import { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { startDynamoDbLocalWithTable } from '../../scripts/dev-kit/booking-table';
import { destroyDocumentClient } from '../../scripts/dev-kit/document-client';
import { startDynamoDbLocal, type RunningDynamoDbLocal } from '../../scripts/dev-kit/dynamodb-local';
import { FAST_RETRIES } from './store';

export interface DiskDynamo {
  /** A store on this server, with the fast test retry policy; it keeps working across restarts. */
  readonly store: DynamoDbBookingStore;
  stop(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server, closes the store's client and deletes the data. */
  dispose(): Promise<void>;
}

export async function startDiskDynamo(tableName: string): Promise<DiskDynamo> {
  const dbPath = mkdtempSync(join(tmpdir(), `bookings-${tableName}-`));
  let server: RunningDynamoDbLocal = await startDynamoDbLocalWithTable(tableName, { dbPath });
  const client = createDocumentClient({ endpoint: server.endpoint });
  return {
    store: new DynamoDbBookingStore({ client, tableName, retryPolicy: FAST_RETRIES }),
    stop: () => server.stop(),
    kill: () => server.kill(),
    restart: async () => {
      server = await startDynamoDbLocal({ dbPath, port: server.port });
    },
    dispose: async () => {
      await server.stop();
      destroyDocumentClient(client);
      rmSync(dbPath, { recursive: true, force: true });
    },
  };
}
