// A back door for tests and benchmarks: writes a slot as given, past every guard, to stage drift and sold-out seats.
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Slot } from '../../lambdas/shared/domain/model';
import { slotItem } from '../../lambdas/shared/dynamodb/items';

/** Replaces the stored slot unconditionally; never used by the product, which changes slots only through guarded writes. */
export async function overwriteSlot(client: DynamoDBDocumentClient, tableName: string, slot: Slot): Promise<void> {
  await client.send(new PutCommand({ TableName: tableName, Item: slotItem(slot) }));
}
