// What every operator command runs with: the table's store, the use cases' collaborators, Stripe's gateway and the printer, built from the flags every command takes.
import { randomIds, systemClock, type Clock, type IdSource } from '../../lambdas/shared/domain/collaborators';
import type { PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { createDocumentClient } from '../../lambdas/shared/dynamodb/client';
import { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { DEFAULT_LOCAL_TABLE_NAME } from '../../lambdas/shared/dynamodb/table-definition';
import { createStripeClient } from '../../lambdas/shared/stripe/stripe-client';
import { StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { UsageError, type FlagSpecs, type FlagValues } from './command';
import { createPrinter, type Printer } from './printing';

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** For tests: a gateway instead of one built from STRIPE_API_KEY. */
  readonly gateway?: PaymentGateway;
}

/** Where the table is, how to print and who is acting: taken by every command. */
export const GLOBAL_FLAGS = {
  endpoint: { type: 'string', value: 'URL', description: 'DynamoDB Local; default http://127.0.0.1:$DYNAMODB_PORT or :8000' },
  region: { type: 'string', value: 'REGION', description: 'AWS, with your credentials' },
  table: { type: 'string', value: 'NAME', description: `default $TABLE_NAME or ${DEFAULT_LOCAL_TABLE_NAME}` },
  json: { type: 'boolean', description: 'machine-readable output' },
  actor: { type: 'string', value: 'NAME', description: 'recorded in the audit trail' },
} as const satisfies FlagSpecs;

export interface OpsContext extends Printer {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly json: boolean;
  readonly store: DynamoDbBookingStore;
  readonly deps: { readonly store: DynamoDbBookingStore; readonly clock: Clock; readonly ids: IdSource };
  readonly gateway: PaymentGateway;
  /** False without STRIPE_API_KEY (or a test's gateway): a command that would refund refuses before changing anything. */
  readonly canRefund: boolean;
  readonly actor: string;
}

export function createContext(io: CliIo, flags: FlagValues<typeof GLOBAL_FLAGS>): OpsContext {
  const endpoint = flags.endpoint ?? io.env.DYNAMODB_ENDPOINT ?? (flags.region ? undefined : `http://127.0.0.1:${io.env.DYNAMODB_PORT || 8000}`);
  const store = new DynamoDbBookingStore({
    client: createDocumentClient({ ...(endpoint && { endpoint }), ...(flags.region && { region: flags.region }) }),
    tableName: flags.table ?? io.env.TABLE_NAME ?? DEFAULT_LOCAL_TABLE_NAME,
  });
  return {
    ...createPrinter(io, flags.json),
    out: io.out,
    err: io.err,
    json: flags.json,
    store,
    deps: { store, clock: systemClock, ids: randomIds },
    gateway: io.gateway ?? stripeGateway(io.env),
    canRefund: io.gateway !== undefined || Boolean(io.env.STRIPE_API_KEY),
    actor: flags.actor ?? io.env.USER ?? 'operator',
  };
}

/** Stripe's refund API through STRIPE_API_KEY (and STRIPE_API_BASE for a local stand-in), the client made only when a refund is asked for. */
function stripeGateway(env: NodeJS.ProcessEnv): PaymentGateway {
  return new StripePaymentGateway(async () => {
    if (!env.STRIPE_API_KEY) throw new UsageError('set STRIPE_API_KEY to talk to Stripe');
    return createStripeClient({ apiKey: env.STRIPE_API_KEY, ...(env.STRIPE_API_BASE && { apiBase: env.STRIPE_API_BASE }) });
  });
}
