// The whole stack on this machine: DynamoDB Local, the booking table, demo data, and the same checkout, trip and webhook handlers behind a local API Gateway.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { type Clock, randomIds, systemClock } from '../../lambdas/shared/domain/collaborators';
import { releaseExpiredHolds, type SweepResult } from '../../lambdas/shared/domain/release-holds';
import { createDocumentClient } from '../../lambdas/shared/dynamodb/client';
import { type CallDeadline, within } from '../../lambdas/shared/invocation-deadline';
import { DynamoDbBookingStore } from '../../lambdas/shared/dynamodb/dynamodb-booking-store';
import { COUNTED_LOG_LINES, METRICS_NAMESPACE, SERVICE_NAME, stripeKeyRejectionReporter } from '../../lambdas/shared/observability';
import { stripeModeOf } from '../../lambdas/shared/stripe/stripe-contract';
import { createStripeClient } from '../../lambdas/shared/stripe/stripe-client';
import { StripeCheckoutSessions, StripeEventSource, StripePaymentGateway } from '../../lambdas/shared/stripe/stripe-gateway';
import { CHECKOUT_PATH, createCheckoutHandler } from '../../lambdas/checkout/checkout-handler';
import { TRIP_PATH } from '../../lambdas/checkout/trip-handler';
import { WEBHOOK_PATH } from '../../lambdas/stripe-webhook/webhook-handler';
import { createStripeReconciler, ReconciliationStoppedError, type ReconcilerSummary } from '../../lambdas/stripe-reconciler/reconciler';
import { startDynamoDbLocalWithTable } from '../dev-kit/booking-table';
import { claimLocalDeploymentMark } from '../dev-kit/deployment-mark';
import { assertPortFree } from '../dev-kit/dynamodb-local';
import { destroyDocumentClient } from '../dev-kit/document-client';
import { createLocalTripHandler } from '../dev-kit/local-trip-handler';
import { createLocalWebhookHandler } from '../dev-kit/local-webhook-handler';
import { serveRoutes } from './api-gateway-adapter';
import { claimDataFolder, isClaimFile } from './data-folder';
import { seedDemoData } from './demo-data';
import { LOCAL_SIGNING_SECRET, LocalSettingError, type LocalSettings, type LogLevel } from './local-settings';
import { StandInStateError, startStripeFake, type StripeFake } from './stripe-fake';

/** A reconciliation run's time, the deployed function's timeout. */
const RECONCILE_RUN_MS = 4 * 60_000;

/** How long a stop waits for a reconciliation run under way to end, having asked it to begin nothing more. */
const STOP_WAITS_FOR_RUN_MS = 3_000;

/** The Stripe stand-in's state, in the data folder beside DynamoDB Local's database. */
export const STAND_IN_STATE_FILE = 'stripe-stand-in.json';

export interface LocalStackOptions extends Omit<LocalSettings, 'stripePort'> {
  /** The stand-in of Stripe's API; 0 for any free port. @default 0 */
  readonly stripePort?: number;
  /** Keep nothing on disk. @default false */
  readonly inMemory?: boolean;
  /** Delete the data kept by earlier runs first. @default false */
  readonly reset?: boolean;
  readonly logLevel?: LogLevel;
  readonly onRequest?: (routeKey: string, status: number, ms: number) => void;
  /** How long checkout holds seats. @default 30 */
  readonly holdMinutes?: number;
  /** How often expired holds are given back, as the deployed hold sweeper's schedule does. @default 60000 (every minute) */
  readonly holdSweepEveryMs?: number;
  /**
   * How often Stripe's events are read back and the refunds Stripe did not take asked for again, as the deployed
   * reconciliation sweep's schedule does. @default 900000 (every 15 minutes, the deployment's default)
   */
  readonly reconcileEveryMs?: number;
  /** When the first run comes after the start. @default reconcileEveryMs (as a schedule's first run comes) */
  readonly reconcileFirstAfterMs?: number;
  /** The clock of both schedules (a test's, ahead). @default systemClock */
  readonly scheduleClock?: Clock;
}

export interface LocalStack {
  readonly webhookUrl: string;
  /** POST /checkout, open on 127.0.0.1. */
  readonly checkoutUrl: string;
  /** GET /trips/{tripId}, open on 127.0.0.1 (the query's `userId` names the user), with `{tripId}` to fill in. */
  readonly tripUrl: string;
  readonly dynamoEndpoint: string;
  readonly dynamoPid: number;
  readonly tableName: string;
  /** What its sessions carry as the deployment's (TABLE_MARK): the table's name and an id the table keeps. */
  readonly mark: string;
  readonly signingSecrets: readonly string[];
  /** Where refunds go: Stripe itself (test key) or the local stand-in. */
  readonly stripeApi: string;
  /** The local stand-in's origin, when there is one (no STRIPE_API_KEY). */
  readonly stripeApiBase?: string;
  readonly seededSlots: readonly string[];
  readonly store: DynamoDbBookingStore;
  /** One run of the hold sweeper, as the schedule runs it. */
  sweepHolds(): Promise<SweepResult>;
  /** One run of the reconciliation sweep, as the schedule runs it (the run under way, if one is). */
  reconcile(): Promise<ReconcilerSummary>;
  /** The local stand-in of Stripe's API, when there is one (no STRIPE_API_KEY). */
  readonly standIn?: StripeFake;
  stop(): Promise<void>;
}

/** `--reset`: everything in the data folder but the claim on it. */
function forgetData(folder: string): void {
  for (const entry of readdirSync(folder)) if (!isClaimFile(entry)) rmSync(join(folder, entry), { recursive: true, force: true });
}

/** Every port refused before anything starts, so a taken one never leaves half a stack writing somewhere. */
async function assertPortsFree(options: LocalStackOptions): Promise<void> {
  if (options.port !== 0) await assertPortFree(options.port, 'PORT');
  if (!options.stripeApiKey && options.stripePort) await assertPortFree(options.stripePort, 'STRIPE_PORT');
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  await assertPortsFree(options);
  const release = options.inMemory ? () => undefined : claimDataFolder(options.dataDir);
  let dynamo: Awaited<ReturnType<typeof startDynamoDbLocalWithTable>>;
  try {
    if (options.reset && !options.inMemory) forgetData(options.dataDir);
    dynamo = await startDynamoDbLocalWithTable(options.tableName, {
      port: options.dynamoPort,
      portSetting: 'DYNAMODB_PORT',
      ...(!options.inMemory && { dbPath: options.dataDir }),
    });
  } catch (error) {
    release();
    throw error;
  }
  const documentClient = createDocumentClient({ endpoint: dynamo.endpoint });
  // Released last: the folder is free once its database is closed.
  const cleanups: (() => Promise<void>)[] = [async () => release(), () => dynamo.stop(), async () => destroyDocumentClient(documentClient)];
  const stopAll = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };
  try {
    const store = new DynamoDbBookingStore({ client: documentClient, tableName: options.tableName });
    const seededSlots = await seedDemoData(store);
    const mark = await claimLocalDeploymentMark(documentClient, options.tableName);

    let stripeApi = 'https://api.stripe.com';
    const logger = new Logger({ serviceName: SERVICE_NAME, logLevel: options.logLevel ?? 'WARN' });
    // A real key Stripe refuses (mistyped, rolled) is said at once, as the deployed functions say it.
    let stripeClient = (): ReturnType<typeof createStripeClient> =>
      createStripeClient({ apiKey: options.stripeApiKey ?? '', onKeyRejected: stripeKeyRejectionReporter(logger) });
    let standIn: StripeFake | undefined;
    if (!options.stripeApiKey) {
      const fake = await startStripeFake({
        acceptUnknownPaymentIntents: true,
        port: options.stripePort ?? 0,
        // Its payment pages, payments, refunds and events are kept with the table: a checkout opened before a restart can
        // still be paid, and its payment refunded, as on Stripe.
        ...(!options.inMemory && { stateFile: join(options.dataDir, STAND_IN_STATE_FILE) }),
      }).catch((error: unknown) => {
        if (!(error instanceof StandInStateError)) throw error;
        throw new LocalSettingError(
          `the Stripe stand-in's state in DATA_DIR cannot be used: ${error.message}; remove that file to forget its payment pages and payments, or --reset to start over`,
        );
      });
      standIn = fake;
      cleanups.push(() => fake.close());
      stripeApi = `${fake.url} (local stand-in: checkout pages and refunds, nothing is charged)`;
      stripeClient = () => fake.client();
    }
    const client = stripeClient();
    const signingSecrets = [LOCAL_SIGNING_SECRET, ...options.extraSigningSecrets];
    // The stand-in is test mode; a real key decides for itself.
    const mode = stripeModeOf(options.stripeApiKey ?? 'sk_test_local');
    const webhook = createLocalWebhookHandler({
      store,
      table: mark,
      stripeClient: () => client,
      signingSecrets: async () => signingSecrets,
      mode,
      logger,
      metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME }),
    });
    const checkout = createCheckoutHandler({
      store,
      checkout: new StripeCheckoutSessions(async () => client, undefined, mark),
      clock: systemClock,
      ids: randomIds,
      holdMinutes: options.holdMinutes ?? 30,
      logger,
    });
    const trips = createLocalTripHandler({
      store,
      table: mark,
      stripeClient: () => client,
      logger,
      metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME }),
    });
    // Locally the front door is open (on 127.0.0.1 only): the caller names the user, in the body or the query.
    const server = serveRoutes({ [`POST ${WEBHOOK_PATH}`]: webhook, [`POST ${CHECKOUT_PATH}`]: checkout, [`GET ${TRIP_PATH}`]: trips }, options.onRequest);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, '127.0.0.1', resolve);
    });
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    // The stand-in's payment page sends its signed events to this webhook, as Stripe would.
    standIn?.setWebhook(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, LOCAL_SIGNING_SECRET);
    // The hold sweeper's schedule: seats of a checkout left open come back to sale, as in AWS.
    const scheduleClock = options.scheduleClock ?? systemClock;
    const sweepHolds = (): Promise<SweepResult> => releaseExpiredHolds({ store, clock: scheduleClock, ids: randomIds });
    // One run at a time, as a schedule's runs that overlap would only meet each other's holds; a stop waits for the run
    // under way, so that the hold it is giving back is given back, and says nothing of one cut short as the stack goes.
    let holdSweepsStopped = false;
    let holdSweep: Promise<void> | undefined;
    const sweeping = setInterval(() => {
      if (holdSweep !== undefined) return;
      holdSweep = sweepHolds()
        .then(
          (result) => {
            if (result.released.length > 0) logger.info('Released expired holds', { released: result.released.length, trips: result.released });
            for (const { tripId, problem } of result.unreadableTrips) logger.error(COUNTED_LOG_LINES.sweptUnreadableTrip.message, { tripId, problem });
            for (const { tripId, problem } of result.heldByUnusableSlots) logger.error(COUNTED_LOG_LINES.sweptHoldOnUnusableSlot.message, { tripId, problem });
          },
          (error: unknown) => {
            if (!holdSweepsStopped) logger.error('The hold sweep failed; the next one tries again', { error });
          },
        )
        .finally(() => {
          holdSweep = undefined;
        });
    }, options.holdSweepEveryMs ?? 60_000);
    cleanups.push(async () => {
      clearInterval(sweeping);
      if (holdSweep !== undefined) await within(holdSweep, STOP_WAITS_FOR_RUN_MS);
      holdSweepsStopped = true;
    });
    // The reconciliation sweep's schedule, as in AWS: an event whose delivery failed (the webhook down or answering an
    // error: the stand-in does not retry) is processed, and a refund Stripe did not take is asked for again. Each run has
    // the deployed function's time, and its calls to Stripe end within it, so a first run over a busy account's month
    // (or Stripe slow on refunds due) goes on in the next run as in AWS.
    let stopAsked = false;
    let runEndsAt: number | undefined;
    // Read at each call (runs here come one at a time): once a stop is asked, no payment, event or page of Stripe's
    // events is begun.
    const runTimeLeft = (): number | undefined => (runEndsAt === undefined ? undefined : stopAsked ? 0 : Math.max(0, runEndsAt - Date.now()));
    const runDeadline: CallDeadline = { timeLeft: runTimeLeft };
    const sweepLogger = logger.createChild();
    const sweepEvents = createStripeReconciler({
      store,
      events: new StripeEventSource(async () => client, runDeadline),
      gateway: new StripePaymentGateway(async () => client, runDeadline),
      clock: scheduleClock,
      ids: randomIds,
      mode: async () => mode,
      table: mark,
      logger: sweepLogger,
      metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME }),
      // A run a stop cuts short learns nothing of the account's pace from it.
      interrupted: () => stopAsked,
    });
    // One run at a time: a run longer than the schedule's period is not joined by the next; asked for meanwhile, the run
    // under way is the answer.
    let reconciling: Promise<ReconcilerSummary> | undefined;
    const reconcile = (): Promise<ReconcilerSummary> => {
      if (reconciling === undefined) {
        runEndsAt = Date.now() + RECONCILE_RUN_MS;
        reconciling = sweepEvents(undefined, { getRemainingTimeInMillis: () => runTimeLeft() ?? 0 }).finally(() => {
          reconciling = undefined;
          runEndsAt = undefined;
        });
      }
      return reconciling;
    };
    const everyMs = options.reconcileEveryMs ?? 15 * 60_000;
    const runOnSchedule = (): void => {
      // What the run did is in its own log lines, as the deployed function's are, a run stopped at an event included; a
      // run that fails once a stop is asked fails because the stack is going away under it.
      reconcile().catch((error: unknown) => {
        if (!stopAsked && !(error instanceof ReconciliationStoppedError)) logger.error('The reconciliation sweep failed; the next one tries again', { error });
      });
      schedule = setTimeout(runOnSchedule, everyMs);
    };
    let schedule = setTimeout(runOnSchedule, options.reconcileFirstAfterMs ?? everyMs);
    cleanups.push(async () => {
      clearTimeout(schedule);
      stopAsked = true;
      // A run cut short loses nothing (a refund stays requested and is found by its key, events are listed again from
      // the cursor): it is waited for a moment, so that what it is writing lands, and its lines about being cut short
      // (or about DynamoDB Local going away under it) would only be noise on the way out.
      sweepLogger.setLogLevel('SILENT');
      if (reconciling !== undefined)
        await within(
          reconciling.catch(() => undefined),
          STOP_WAITS_FOR_RUN_MS,
        );
    });
    return {
      webhookUrl: `http://127.0.0.1:${port}${WEBHOOK_PATH}`,
      checkoutUrl: `http://127.0.0.1:${port}${CHECKOUT_PATH}`,
      tripUrl: `http://127.0.0.1:${port}${TRIP_PATH}`,
      dynamoEndpoint: dynamo.endpoint,
      dynamoPid: dynamo.pid,
      tableName: options.tableName,
      mark,
      signingSecrets,
      stripeApi,
      ...(standIn && { stripeApiBase: standIn.url }),
      seededSlots,
      store,
      sweepHolds,
      reconcile,
      ...(standIn && { standIn }),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
