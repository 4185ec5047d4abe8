// The mark a table's Checkout Sessions carry (TABLE_MARK): its name, unless the table keeps a mark of its own, as a local stack's does.
import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { keys } from '../../lambdas/shared/dynamodb/item-keys';

/** The mark the table keeps, else its name (a deployed stack's table keeps none). */
export async function deploymentMarkOf(client: DynamoDBDocumentClient, tableName: string): Promise<string> {
  return (await keptMark(client, tableName)) ?? tableName;
}

/**
 * The local stack's mark: the one its table keeps, or a new one kept there (its name and eight random hex digits).
 * Every developer's local table has the same name, and `stripe listen` forwards every session of a shared test account
 * to each of them: marked with the name alone, one developer's stack would refund another's payments as payments of
 * trips it does not know. Kept in the table, the mark lives as long as the data does: sessions opened before a restart
 * are still this stack's, and `--reset` or `--in-memory` start a new one.
 */
export async function claimLocalDeploymentMark(client: DynamoDBDocumentClient, tableName: string): Promise<string> {
  const mark = `${tableName}/local-${randomBytes(4).toString('hex')}`;
  try {
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: { ...keys.deploymentMark, entity: 'deployment_mark', mark },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return mark;
  } catch (error) {
    if ((error as { name?: string }).name !== 'ConditionalCheckFailedException') throw error;
    const kept = await keptMark(client, tableName);
    if (kept === undefined)
      throw new Error(`table ${tableName} keeps a deployment mark that is not text: delete its item ${JSON.stringify(keys.deploymentMark)}`);
    return kept;
  }
}

async function keptMark(client: DynamoDBDocumentClient, tableName: string): Promise<string | undefined> {
  const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: keys.deploymentMark, ConsistentRead: true }));
  return typeof Item?.mark === 'string' ? Item.mark : undefined;
}
