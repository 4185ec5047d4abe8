// Runs before every test file against DynamoDB Local: creates the file's own table, and after its last test destroys the clients it opened and deletes the table.
import { afterAll, inject } from 'vitest';
import { createBookingTable, deleteBookingTable } from '../../scripts/dev-kit/booking-table';
import { destroyTestClients, testTableName } from './store';

// Before the file is imported, so a store made at its top level already has its table.
await createBookingTable(inject('dynamoEndpoint'), testTableName());

afterAll(async () => {
  destroyTestClients();
  await deleteBookingTable(inject('dynamoEndpoint'), testTableName());
});
