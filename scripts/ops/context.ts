// What every operator command runs with: the table's store, the use cases' collaborators, Stripe's gateway and list of events, and the printer, built from the flags every command takes.
import type Stripe from 'stripe';
import { randomIds, systemClock, type Clock, type IdSource } from '../../lambdas/shared/domain/collaborators';
import type { PaymentEventSource, PaymentGateway } from '../../lambdas/shared/domain/payment-gateway';
import { createDocumentClient } from '../../lambdas/shared/dynamodb/client';
import { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { DEFAULT_LOCAL_TABLE_NAME } from '../../lambdas/shared/dynamodb/table-definition';
import { createStripeClient } from '../../lambdas/shared/stripe/stripe-client';
import { stripeModeOf, type StripeMode } from '../../lambdas/shared/stripe/stripe-contract';
import { StripeEventSource, StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { deploymentMarkOf } from '../dev-kit/deployment-mark';
import { localSettings, STAND_IN_API_KEY, type RunningStack } from '../local/local-settings';
import { UsageError, type FlagSpecs, type FlagValues } from './command';
import { createPrinter, type Printer } from './printing';

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** For tests: a gateway instead of one built from STRIPE_API_KEY. */
  readonly gateway?: PaymentGateway;
  /** What a running `npm start` listens on (its ports, table and Stripe stand-in), used where flags and variables say nothing. */
  readonly localStack?: RunningStack | undefined;
}

/** Where the table is, how to print and who is acting: taken by every command. */
export const GLOBAL_FLAGS = {
  endpoint: {
    type: 'string',
    value: 'URL',
    description: 'DynamoDB Local; default $DYNAMODB_ENDPOINT, else http://127.0.0.1:$DYNAMODB_PORT if set, else the running `npm start`’s, else :8000',
  },
  region: { type: 'string', value: 'REGION', description: 'AWS, with your credentials' },
  table: { type: 'string', value: 'NAME', description: `default $TABLE_NAME, else the running \`npm start\`’s, else ${DEFAULT_LOCAL_TABLE_NAME}` },
  json: { type: 'boolean', description: 'machine-readable output' },
  actor: { type: 'string', value: 'NAME', description: 'recorded in the audit trail' },
  help: { type: 'boolean', short: 'h', description: 'this help, or the command’s' },
} as const satisfies FlagSpecs;

export interface OpsContext extends Printer {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly json: boolean;
  readonly store: DynamoDbBookingStore;
  /** What the table's sessions carry as the deployment's (TABLE_MARK): a local stack's own mark, else the table's name. */
  deploymentMark(): Promise<string>;
  readonly deps: { readonly store: DynamoDbBookingStore; readonly clock: Clock; readonly ids: IdSource };
  readonly gateway: PaymentGateway;
  /** False without STRIPE_API_KEY (or a test's gateway): a command that would refund refuses before changing anything. */
  readonly canRefund: boolean;
  /** Stripe's list of events (`reconcile`), from the same key as the gateway; usable only with `canListEvents`. */
  readonly events: PaymentEventSource;
  readonly canListEvents: boolean;
  /** The mode of that key, as a deployment reads its own: events of the other mode are left alone. */
  readonly stripeMode: StripeMode;
  readonly actor: string;
}

export function createContext(io: CliIo, flags: FlagValues<typeof GLOBAL_FLAGS>): OpsContext {
  checkEndpoint(flags.endpoint, '--endpoint');
  checkEndpoint(io.env.DYNAMODB_ENDPOINT, 'DYNAMODB_ENDPOINT');
  // A table in AWS has the name its stack gave it: the local default would be another table, or none.
  if (flags.region && !flags.table && !io.env.TABLE_NAME) {
    throw new UsageError('--region needs --table (the stack output TableName, or TABLE_NAME): the local default names no table of a deployed stack');
  }
  // The running local stack counts only when the command is aimed at it: no other endpoint or port named, or the one its
  // DynamoDB Local answers on (its Stripe stand-in then refunds, as without them).
  const named = flags.endpoint ?? io.env.DYNAMODB_ENDPOINT ?? (io.env.DYNAMODB_PORT ? `http://127.0.0.1:${io.env.DYNAMODB_PORT}` : undefined);
  const local = flags.region || (named !== undefined && !isEndpointOf(named, io.localStack)) ? undefined : io.localStack;
  const settings = localSettings(io.env, local);
  const endpoint = flags.endpoint ?? io.env.DYNAMODB_ENDPOINT ?? (flags.region ? undefined : `http://127.0.0.1:${settings.dynamoPort}`);
  const documentClient = createDocumentClient({ ...(endpoint && { endpoint }), ...(flags.region && { region: flags.region }) });
  const store = new DynamoDbBookingStore({ client: documentClient, tableName: flags.table ?? settings.tableName });
  const stripe = stripeSettings(io.env, local);
  const client = stripeClient(stripe);
  return {
    ...createPrinter(io, flags.json),
    out: io.out,
    err: io.err,
    json: flags.json,
    store,
    deploymentMark: () => deploymentMarkOf(documentClient, store.tableName),
    deps: { store, clock: systemClock, ids: randomIds },
    gateway: io.gateway ?? new StripePaymentGateway(client),
    canRefund: io.gateway !== undefined || stripe.apiKey !== undefined,
    events: new StripeEventSource(client),
    canListEvents: stripe.apiKey !== undefined,
    stripeMode: stripeModeOf(stripe.apiKey ?? ''),
    actor: flags.actor ?? io.env.USER ?? 'operator',
  };
}

/** A mistyped endpoint is bad usage, said before anything is sent: the SDK's own words (\`Invalid URL\`) name nothing. */
function checkEndpoint(endpoint: string | undefined, source: string): void {
  if (endpoint === undefined || endpoint === '') return;
  const protocol = URL.canParse(endpoint) ? new URL(endpoint).protocol : undefined;
  if (protocol !== 'http:' && protocol !== 'https:') throw new UsageError(`${source} must be an http(s) URL, such as http://127.0.0.1:8000; got "${endpoint}"`);
}

/** Whether `endpoint` is where the running local stack's DynamoDB Local answers (on this machine, at its port). */
function isEndpointOf(endpoint: string, stack: RunningStack | undefined): boolean {
  if (stack === undefined || !URL.canParse(endpoint)) return false;
  const url = new URL(endpoint);
  return ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) && url.port === String(stack.dynamoPort);
}

/** STRIPE_API_KEY (and STRIPE_API_BASE), else the running local stack's stand-in of Stripe's API, else none. */
function stripeSettings(env: NodeJS.ProcessEnv, local: RunningStack | undefined): { apiKey?: string; apiBase?: string } {
  // Trimmed as the deployment's secret is (stripe-secrets.ts): a key read from a file keeps its newline.
  const apiKey = env.STRIPE_API_KEY?.trim();
  if (apiKey) return { apiKey, ...(env.STRIPE_API_BASE && { apiBase: env.STRIPE_API_BASE }) };
  if (local?.stripeApiBase) return { apiKey: STAND_IN_API_KEY, apiBase: local.stripeApiBase };
  return {};
}

/** Stripe's API, the client made the first time a command calls it. */
function stripeClient({ apiKey, apiBase }: { apiKey?: string; apiBase?: string }): () => Promise<Stripe> {
  let client: Stripe | undefined;
  return async () => {
    if (!apiKey)
      throw new UsageError(
        'set STRIPE_API_KEY to talk to Stripe (or aim at a running `npm start`, whose stand-in is found by itself: with its LOCAL_STACK_FILE, if it was given one)',
      );
    client ??= createStripeClient({ apiKey, ...(apiBase && { apiBase }) });
    return client;
  };
}
