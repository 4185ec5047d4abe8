// The real webhook handler behind a local HTTP server, with the Stripe stand-in told to send its signed events there.
import type { TestStore } from './store';
import type { AddressInfo } from 'node:net';
import { WEBHOOK_PATH } from '../../lambdas/stripe-webhook/webhook-handler';
import { serveRoutes } from '../../scripts/local/api-gateway-adapter';
import { startStripeFake, type StripeFake } from '../../scripts/local/stripe-fake';
import { SIGNING_SECRET } from '../../scripts/dev-kit/stripe-events';
import { webhookHarness } from './webhook';

/** Starts the server and points the fake's payment page at it; resolves to a function that stops the server. */
export async function serveWebhookFor(fake: StripeFake, store: TestStore): Promise<() => Promise<void>> {
  const webhook = webhookHarness(fake, { store });
  const server = serveRoutes({
    [`POST ${WEBHOOK_PATH}`]: async (event) => {
      const response = await webhook.send(event);
      return { statusCode: response.status, body: JSON.stringify(response.body) };
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.setWebhook(`http://127.0.0.1:${(server.address() as AddressInfo).port}${WEBHOOK_PATH}`, SIGNING_SECRET);
  return () => new Promise((resolve) => server.close(() => resolve()));
}

/** A Stripe stand-in that delivers its signed events to the real webhook over `store`; `stop` closes both. */
export async function servedStripeFake(store: TestStore): Promise<{ fake: StripeFake; stop: () => Promise<void> }> {
  const fake = await startStripeFake();
  const stopWebhook = await serveWebhookFor(fake, store);
  return {
    fake,
    stop: async () => {
      await stopWebhook();
      await fake.close();
    },
  };
}
