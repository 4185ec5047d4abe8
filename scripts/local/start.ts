// `npm start`: the stack on this machine until Ctrl-C. Flags: --in-memory (keep nothing), --reset (forget earlier runs).
import { parseArgs } from 'node:util';
import { JavaMissingError } from '../dev-kit/dynamodb-local';
import { startLocalStack } from './local-stack';
import { localSettings } from './local-settings';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'in-memory': { type: 'boolean', default: false }, reset: { type: 'boolean', default: false } } });
  const settings = localSettings();
  const stack = await startLocalStack({
    ...settings,
    inMemory: values['in-memory'],
    reset: values.reset,
    logLevel: (process.env.LOG_LEVEL as 'INFO' | undefined) ?? 'WARN',
    onRequest: (route, status, ms) => console.log(`${new Date().toISOString()}  ${route}  ${status}  ${ms} ms`),
  });
  const storage = values['in-memory'] ? 'in memory (gone on exit)' : `kept in ${settings.dataDir}/ (--reset to start over, --in-memory to keep nothing)`;
  console.log(`
Pulau booking confirmation, running locally

  Checkout       POST ${stack.checkoutUrl}   (open on 127.0.0.1: the body names the user; on AWS it needs a JWT or IAM)
  Webhook        POST ${stack.webhookUrl}
  Signing secret ${stack.signingSecrets[0]}${stack.signingSecrets.length > 1 ? ` (and ${stack.signingSecrets.length - 1} from STRIPE_WEBHOOK_SECRETS)` : ''}
  DynamoDB Local ${stack.dynamoEndpoint} (pid ${stack.dynamoPid}), table "${stack.tableName}", data ${storage}
  Stripe API     ${stack.stripeApi}
  Demo data      ${stack.seededSlots.length > 0 ? `${stack.seededSlots.length} slots created` : 'kept from an earlier run'}

Try it:
  npm run demo                       a trip checked out and paid, then two buyers racing for the last seat
  curl -s -X POST ${stack.checkoutUrl} -H 'content-type: application/json' \\
    -d '{"userId":"me","items":[{"slotId":"${stack.seededSlots[0] ?? '<slot id>'}","guestCount":2}],"successUrl":"http://127.0.0.1/done","cancelUrl":"http://127.0.0.1/cancelled"}'
                                     then open its checkoutUrl in a browser: Pay, Pay later or Let it expire
  npm run ops -- slots list          the inventory (see README for the operator CLI)

With the Stripe CLI and a test key, real test-mode events reach this stack:
  stripe listen --forward-to ${stack.webhookUrl}
  then restart with STRIPE_WEBHOOK_SECRETS=<the whsec_... it prints> STRIPE_API_KEY=sk_test_... npm start

Ctrl-C stops everything, DynamoDB Local included.
`);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping…');
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error(error instanceof JavaMissingError || (error as { code?: string }).code === 'EADDRINUSE' ? (error as Error).message : error);
  process.exit(1);
});
