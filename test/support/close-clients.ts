// Runs before every test file against DynamoDB Local: the document clients its tests opened are destroyed after its last test.
import { afterAll } from 'vitest';
import { destroyTestClients } from './store';

afterAll(() => destroyTestClients());
