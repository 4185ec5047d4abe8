// The check every operator command that acts at Stripe makes first: the key's mode is the table's deployment's.
import { cursorOf, STRIPE_CURSOR } from '../../lambdas/stripe-reconciler/reconciler';
import type { OpsContext } from './context';

/**
 * Refuses, with one line and exit code 2, a STRIPE_API_KEY whose mode is not the table's, before anything is read from
 * Stripe or written; undefined when the command may go on. The deployment's sweep writes its mode on its cursor (one per
 * mode: the table's is the mode of the one it moved last). A key of
 * the other mode would act on payments the table does not hold as that mode's: list and book the other mode's events,
 * or have Stripe answer "no such payment" for a refund, which puts a paid booking in front of a person, cancelled and
 * not refunded. A live key needs a table that says it is live; a test key (or the local stand-in's) one that does not
 * say so, as a local table never does.
 */
export async function stripeModeRefusal(context: OpsContext): Promise<number | undefined> {
  const cursors = await Promise.all((['test', 'live'] as const).map((mode) => context.store.getEventCursor(cursorOf(STRIPE_CURSOR, mode))));
  const movedLast = cursors.filter((cursor) => cursor !== undefined).sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))[0];
  const tableMode = movedLast?.mode;
  const keyMode = context.stripeMode;
  if (tableMode === keyMode || (tableMode === undefined && keyMode === 'test')) return undefined;
  const table = context.store.tableName;
  const why =
    tableMode === undefined
      ? `STRIPE_API_KEY is a live key and table ${table} has no live deployment's sweep (its cursor says no mode): check --region and --table, or wait for the deployment's first scheduled sweep`
      : `STRIPE_API_KEY is a ${keyMode} key and table ${table} belongs to a ${tableMode} deployment (its sweep's cursor says so): check STRIPE_API_KEY, --region and --table`;
  context.err(`error: MODE_MISMATCH: ${why}; nothing was read from Stripe or written`);
  return 2;
}
