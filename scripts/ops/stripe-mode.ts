// The checks every operator command that acts at Stripe makes first: the key's mode is the table's deployment's, and its account holds the table's payments.
import { cursorOf, STRIPE_CURSOR } from '../../lambdas/stripe-reconciler/reconciler';
import { PaymentGatewayUnavailableError, type PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import type { OpsContext } from './context';
import { FIX_THE_STRIPE_KEY } from './printing';

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

/**
 * Refuses, with one line and exit code 2, a STRIPE_API_KEY whose account holds none of `paymentIds` (those Stripe can
 * refund; `what` says which they are), before anything is asked or written; undefined when the command may go on. A key
 * of another account of the same mode passes the mode check, and a refund asked with it comes back "no such payment":
 * a refusal for good, the payment put in front of a person with nothing refunded. One payment the account does not hold
 * among several does not refuse. When Stripe cannot tell for now (down, or refusing the key), the command stops there
 * (exit 1, nothing asked or written): its refunds could not be asked either, and going on would leave a key of another
 * account unchecked.
 */
export async function accountRefusal(context: OpsContext, paymentIds: readonly string[], what: string): Promise<number | undefined> {
  const looked = paymentIds.filter((paymentId) => context.gateway.refundable(paymentId));
  try {
    for (const paymentId of looked) if (await context.gateway.holdsPayment(paymentId)) return undefined;
  } catch (error) {
    if (!(error instanceof PaymentGatewayUnavailableError)) throw error;
    context.err(
      error.credentialsRejected
        ? `error: STRIPE_KEY_REJECTED: ${error.message}; nothing was asked or written: ${FIX_THE_STRIPE_KEY}, then run the same command again`
        : `error: STRIPE_UNAVAILABLE: ${error.message}; nothing was asked or written: run the same command again`,
    );
    return 1;
  }
  if (looked.length === 0) return undefined;
  context.err(
    `error: ACCOUNT_MISMATCH: the Stripe account of STRIPE_API_KEY holds none of ${looked.join(', ')} (${what}): ` +
      "is it a key of this deployment's account? nothing was asked or written",
  );
  return 2;
}

/**
 * The key's Stripe account holds no payment it was about to be asked to refund. Thrown as Stripe being unavailable, so
 * the refund stays `requested` (never recorded as refused: that would put the payment in front of a person for a key's
 * mistake), and the reconciliation sweep asks for it with the deployment's own key.
 */
export class AccountMismatchError extends PaymentGatewayUnavailableError {
  constructor(readonly paymentId: string) {
    super(`the Stripe account of STRIPE_API_KEY holds no payment ${paymentId} (a key of another account, or a payment Stripe no longer has)`, {
      paymentNotHeld: true,
    });
    this.name = 'AccountMismatchError';
  }
}

/** A gateway that looks its key's account up before it asks, and says whether that lookup refused it. */
export interface AccountCheckedGateway extends PaymentGateway {
  /**
   * The refusal thrown when the key's account held no payment it was asked about; undefined until then. A use case that
   * turns Stripe being unavailable into a business answer (`STRIPE_UNAVAILABLE`) loses the error's class: the command
   * asks here whether running it again with the same key could help.
   */
  readonly mismatch: () => AccountMismatchError | undefined;
}

/**
 * The gateway with its key's account looked up before it first asks Stripe anything of a payment, until one payment is
 * found held (`confirmed`: one was already): a command that decides before it asks (`bookings cancel` stores the refund,
 * then asks) or reads the payments due more than once (`payments resume-refunds`) cannot ask with a key of another
 * account. A command that asks Stripe nothing looks nothing up. Once the account is known to be the table's, a payment it
 * does not hold is asked for as before (Stripe's "no such payment" puts it in front of a person), whatever its turn.
 */
export function accountChecked(gateway: PaymentGateway, options: { confirmed?: boolean } = {}): AccountCheckedGateway {
  let confirmed = options.confirmed ?? false;
  let mismatch: AccountMismatchError | undefined;
  const holdsPayment = async (paymentId: string): Promise<boolean> => {
    const held = await gateway.holdsPayment(paymentId);
    if (held) confirmed = true;
    return held;
  };
  const check = async (paymentId: string): Promise<void> => {
    if (confirmed || !gateway.refundable(paymentId)) return;
    if (await holdsPayment(paymentId)) return;
    mismatch = new AccountMismatchError(paymentId);
    throw mismatch;
  };
  return {
    mismatch: () => mismatch,
    refundable: (paymentId) => gateway.refundable(paymentId),
    holdsPayment,
    findRefund: async (paymentId, refundKey) => {
      await check(paymentId);
      return gateway.findRefund(paymentId, refundKey);
    },
    refund: async (request) => {
      await check(request.paymentId);
      return gateway.refund(request);
    },
    refundedSoFar: async (paymentId) => {
      await check(paymentId);
      return gateway.refundedSoFar(paymentId);
    },
  };
}
