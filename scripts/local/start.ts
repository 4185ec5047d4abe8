// `npm start`: the stack on this machine until Ctrl-C. Flags: --in-memory (keep nothing), --reset (forget earlier runs), --help.
import { parseArgs } from 'node:util';
import { DEFAULT_LOCAL_TABLE_NAME } from '../../lambdas/shared/dynamodb/table-definition';
import { JavaMissingError, PortInUseError } from '../dev-kit/dynamodb-local';
import { nearestFlag, unknownFlagOf } from '../dev-kit/unknown-flag';
import { DataFolderInUseError } from './data-folder';
import { DEMO_SLOTS } from './demo-data';
import { startLocalStack } from './local-stack';
import {
  AlreadyRunningError,
  assertNotRunning,
  DEFAULT_PORTS,
  checkStartSettings,
  LocalSettingError,
  localSettings,
  removeRunningStack,
  RUNNING_STACK_FILE,
  writeRunningStack,
  type LocalSettings,
} from './local-settings';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

const HELP = `Usage: npm start [-- --in-memory | --reset | --help]

  --in-memory   keep nothing (gone on exit)
  --reset       forget the data kept by earlier runs
  -h, --help    this text

Settings (environment): PORT (${DEFAULT_PORTS.port}), DYNAMODB_PORT (${DEFAULT_PORTS.dynamoPort}), STRIPE_PORT (${DEFAULT_PORTS.stripePort}),
TABLE_NAME (${DEFAULT_LOCAL_TABLE_NAME}), DATA_DIR (.data, one stack at a time), LOCAL_STACK_FILE (.local-stack.json),
STRIPE_WEBHOOK_SECRETS, STRIPE_API_KEY (a test secret key, else the local stand-in), LOG_LEVEL (WARN).
While it runs, \`npm run demo\` and \`npm run ops\` find its ports, table and Stripe stand-in by themselves.`;

const FLAGS = {
  'in-memory': { type: 'boolean', default: false },
  reset: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/**
 * The settings that say where this stack listens, which table it uses and where it is recorded (the file demo and ops
 * find it by), as `NAME=value` words.
 */
function stackSettings(settings: LocalSettings): string[] {
  return [
    ...(settings.port !== DEFAULT_PORTS.port ? [`PORT=${settings.port}`] : []),
    ...(settings.dynamoPort !== DEFAULT_PORTS.dynamoPort ? [`DYNAMODB_PORT=${settings.dynamoPort}`] : []),
    ...asSet('TABLE_NAME'),
    ...asSet('LOCAL_STACK_FILE'),
  ];
}

/** `NAME=value` when the variable is set for this process (as one shell word), else nothing. */
function asSet(name: string): string[] {
  const value = process.env[name];
  return value ? [`${name}=${shellWord(value)}`] : [];
}

/** The way to type a command so it reaches this stack even from a shell without its variables. */
function commandFor(script: string, settings: LocalSettings): string {
  return [...stackSettings(settings), `npm run ${script}`].join(' ');
}

/**
 * `npm start` again as this one was started (its ports, table, and data or none), with the Stripe CLI's secret and a
 * test key: restarted without `--in-memory`, a stack kept in memory would take the data folder of another.
 */
function restartWithStripeCommand(settings: LocalSettings, inMemory: boolean): string {
  return [
    ...stackSettings(settings),
    ...(inMemory ? [] : asSet('DATA_DIR')),
    'STRIPE_WEBHOOK_SECRETS=<the whsec_... it prints>',
    'STRIPE_API_KEY=sk_test_...',
    inMemory ? 'npm start -- --in-memory' : 'npm start',
  ].join(' ');
}

/** A value as one shell word: as it is when it is plain, else in single quotes. */
function shellWord(value: string): string {
  return /^[\w./:@%+=,-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

/** Signals this close together are one ask to stop: npm passes on the Ctrl-C the terminal also sent this process. */
const SAME_ASK_MS = 1_000;

async function main(): Promise<number | undefined> {
  // Taken first: npm killed while the stack starts leaves this process to pid 1, which the check below then sees.
  const parent = process.ppid;
  const { values } = parseArgs({ options: FLAGS });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const settings = localSettings();
  const logLevel = checkStartSettings(settings);
  // Before anything starts: a second stack would take over this one's file (and, on its data, its database).
  assertNotRunning();
  // Heard from now on: a stop asked for while the stack starts is carried out once it has started (its claim on the
  // data folder released, DynamoDB Local stopped), as an orphaned start stops itself, instead of dying half-started.
  let stack: Awaited<ReturnType<typeof startLocalStack>> | undefined;
  let stopping = false;
  let askedAt = 0;
  const stop = async (): Promise<void> => {
    // Asked again while the start hangs (a DynamoDB Local that never answers): at once. Java stops with this process,
    // and the next start takes over the data folder's claim of a process that is gone. Not within the first second:
    // one Ctrl-C reaches this process twice through npm (the terminal's signal, and npm's copy of it).
    if (stopping && stack === undefined && performance.now() - askedAt >= SAME_ASK_MS) process.exit(130);
    if (stopping) return;
    stopping = true;
    askedAt = performance.now();
    if (stack === undefined) {
      console.log('\nStopping… once started (again to stop at once)');
      return;
    }
    console.log('\nStopping…');
    removeRunningStack(process.pid);
    await stack.stop();
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop());
  try {
    stack = await startLocalStack({
      ...settings,
      inMemory: values['in-memory'],
      reset: values.reset,
      logLevel,
      // Half a minute in, not a whole period: a stack restarted more often than every 15 minutes still sweeps what was
      // lost while it was stopped.
      reconcileFirstAfterMs: 30_000,
      onRequest: (route, status, ms) => console.log(`${new Date().toISOString()}  ${route}  ${status}  ${ms} ms`),
    });
  } catch (error) {
    // A start that failed once a stop was asked for has stopped as asked, having released what it took.
    if (stopping) return 0;
    throw error;
  }
  if (stopping) {
    await stack.stop();
    return 0;
  }
  try {
    writeRunningStack({
      pid: process.pid,
      port: settings.port,
      dynamoPort: settings.dynamoPort,
      tableName: settings.tableName,
      ...(stack.stripeApiBase && { stripeApiBase: stack.stripeApiBase }),
    });
  } catch (error) {
    await stack.stop();
    throw new LocalSettingError(`LOCAL_STACK_FILE ${RUNNING_STACK_FILE} cannot be written (${(error as Error).message})`);
  }
  // Under tsx, the parent going away (killed, not signalled through) closes this channel.
  process.on('disconnect', () => void stop());
  // npm forwards SIGINT and SIGTERM but dies of SIGHUP or SIGKILL alone; an orphan is re-parented, and then stops.
  setInterval(() => {
    if (process.ppid !== parent) void stop();
  }, 1_000).unref();
  const storage = values['in-memory'] ? 'in memory (gone on exit)' : `kept in ${settings.dataDir}/ (--reset to start over, --in-memory to keep nothing)`;
  const demo = commandFor('demo', settings);
  const slotsList = `${commandFor('ops', settings)} -- slots list`;
  // The hints line up after the longest command (longer with PORT, DYNAMODB_PORT, TABLE_NAME or LOCAL_STACK_FILE set).
  const width = Math.max(34, demo.length + 1, slotsList.length + 1);
  const continued = ' '.repeat(width + 3);
  // Where the payment page sends the traveller back: checkout fills in the trip's id.
  const returnUrl = `${stack.tripUrl.replace('{tripId}', '{TRIP_ID}')}?userId=me`;
  const curl = `  curl -s -X POST ${stack.checkoutUrl} -H 'content-type: application/json' \\
    -d '{"userId":"me","items":[{"slotId":"${DEMO_SLOTS.riceTerraces.slotId}","guestCount":2}],"successUrl":"${returnUrl}","cancelUrl":"${returnUrl}"}'`;
  const landing = `${continued}and you land on GET /trips/<its tripId>: the trip as it is now
  ${slotsList.padEnd(width)} the inventory (see README for the operator CLI)`;
  // The demo pays on the stand-in's page, which Stripe itself has not: with a test key, a browser pays with a test card.
  const tryIt = stack.stripeApiBase
    ? `Try it (in another terminal; both find this stack by themselves while it runs):
  ${demo.padEnd(width)} a trip checked out and paid, then two buyers racing for the last seat
${curl}
${continued}then open its checkoutUrl in a browser: Pay, Pay later or Let it expire,
${landing}

With the Stripe CLI and a test key, real test-mode events reach this stack:
  stripe listen --forward-to ${stack.webhookUrl}
  then restart with ${restartWithStripeCommand(settings, values['in-memory'])}
`
    : `Try it (in another terminal; ops finds this stack by itself while it runs):
${curl}
${continued}then open its checkoutUrl in a browser and pay with Stripe's test card 4242 4242 4242 4242,
${landing}

Stripe's test-mode events reach this stack through the Stripe CLI, its signing secret in STRIPE_WEBHOOK_SECRETS:
  stripe listen --forward-to ${stack.webhookUrl}
`;
  console.log(`
Pulau booking confirmation, running locally

  Checkout       POST ${stack.checkoutUrl}   (open on 127.0.0.1: the body names the user; on AWS it needs a JWT or IAM)
  Trip           GET  ${stack.tripUrl}?userId=<user>   (open on 127.0.0.1 as checkout; on AWS checkout's JWT or IAM)
  Webhook        POST ${stack.webhookUrl}
  Signing secret ${stack.signingSecrets[0]}${stack.signingSecrets.length > 1 ? ` (and ${stack.signingSecrets.length - 1} from STRIPE_WEBHOOK_SECRETS)` : ''}
  DynamoDB Local ${stack.dynamoEndpoint} (pid ${stack.dynamoPid}), table "${stack.tableName}", data ${storage}
  Stripe API     ${stack.stripeApi}${stack.stripeApiBase ? '' : ` (sessions marked ${stack.mark}: this stack's own on the account)`}
  Demo data      ${stack.seededSlots.length > 0 ? `${stack.seededSlots.length} slots created` : 'kept from an earlier run'}

${tryIt}
Ctrl-C stops everything, DynamoDB Local included.
`);
  return undefined;
}

/** A setting or a port that cannot be used is one line, not a stack trace. */
function explain(error: unknown): string | undefined {
  if (error instanceof PortInUseError) return `PORT_IN_USE: ${error.message}`;
  if (error instanceof AlreadyRunningError) return `ALREADY_RUNNING: ${error.message}`;
  if (error instanceof DataFolderInUseError) return `DATA_IN_USE: ${error.message}`;
  if (error instanceof JavaMissingError) return `JAVA_MISSING: ${error.message}`;
  if (error instanceof LocalSettingError) return `BAD_SETTING: ${error.message}`;
  const code = (error as { code?: string }).code;
  const unknown = unknownFlagOf(error);
  if (unknown !== undefined) {
    const near = nearestFlag(unknown, Object.keys(FLAGS));
    return `USAGE: unknown flag ${unknown}${near ? ` (did you mean --${near}?)` : ''} (npm start -- --help lists the flags)`;
  }
  if (code?.startsWith('ERR_PARSE_ARGS')) return `USAGE: ${(error as Error).message.split('\n')[0]} (npm start -- --help)`;
  if (code === 'EADDRINUSE') return `PORT_IN_USE: ${(error as Error).message}`;
  return undefined;
}

main().then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (error: unknown) => {
    const line = explain(error);
    console.error(line ? `error: ${line}` : error);
    // A bad flag or setting is bad usage (2), like the operator CLI's; a refusal to start is 1.
    const usage = error instanceof LocalSettingError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.exit(usage ? 2 : 1);
  },
);
