// `npm start` on ports of its own, then `npm run demo` and `npm run ops` from a shell without its variables: they find it, its table and its Stripe stand-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownLocalEnv, run, runProcess, type Running } from '../support/processes';

let env: Record<string, string>;
let stack: Running;
let printed: string;
beforeAll(async () => {
  env = await ownLocalEnv();
  stack = runProcess('npm', ['start', '--silent', '--', '--in-memory'], env);
  printed = await stack.waitFor(/Ctrl-C stops everything/);
});
afterAll(async () => {
  stack.child.kill('SIGTERM');
  await stack.finished;
});

/** Only where the running stack recorded itself: none of its ports or its table. */
const plainShell = (): Record<string, string> => ({ LOCAL_STACK_FILE: env.LOCAL_STACK_FILE as string });

describe('settings of npm start reach demo and ops', () => {
  it('prints the commands with its own ports, the restart for the Stripe CLI included', () => {
    expect(printed).toContain(
      `PORT=${env.PORT} DYNAMODB_PORT=${env.DYNAMODB_PORT} TABLE_NAME=${env.TABLE_NAME} LOCAL_STACK_FILE=${env.LOCAL_STACK_FILE} npm run demo`,
    );
    expect(printed).toContain(`Stripe API     http://127.0.0.1:${env.STRIPE_PORT} (local stand-in`);
    // Restarted as printed, the stack is where `stripe listen` forwards to, on its table and kept in memory as it was.
    expect(printed).toContain(`stripe listen --forward-to http://127.0.0.1:${env.PORT}/webhooks/stripe`);
    expect(printed).toContain(
      `then restart with PORT=${env.PORT} DYNAMODB_PORT=${env.DYNAMODB_PORT} TABLE_NAME=${env.TABLE_NAME} LOCAL_STACK_FILE=${env.LOCAL_STACK_FILE} ` +
        'STRIPE_WEBHOOK_SECRETS=<the whsec_... it prints> STRIPE_API_KEY=sk_test_... npm start -- --in-memory',
    );
  });

  it('runs the demo twice in a row, both ending with their summary', async () => {
    for (const _ of [1, 2]) {
      const demo = await run('npm', ['run', 'demo', '--silent'], plainShell());
      expect(demo.err).toBe('');
      expect(demo).toMatchObject({ code: 0, out: expect.stringMatching(/Summary\n {2}trip trip-\S+: booked, 2 bookings/) });
      expect(demo.out).toContain('every slot adds up');
    }
  });

  it('cancels a booking through ops aimed at the stack’s DynamoDB Local by name: its stand-in refunds, as without the flag', async () => {
    const demo = await run('npm', ['run', 'demo', '--silent'], plainShell());
    const reference = /booking (PL-[A-Z0-9]+)/.exec(demo.out)?.[1] as string;

    const cancelled = await run(
      'npm',
      ['run', 'ops', '--silent', '--', 'bookings', 'cancel', reference, '--reason', 'guide ill', '--endpoint', `http://localhost:${env.DYNAMODB_PORT}`],
      plainShell(),
    );

    expect(cancelled).toMatchObject({ code: 0, err: '' });
    expect(cancelled.out).toMatch(/succeeded: 70\.00 \S+ as re_fake_\d+_[0-9a-f]+/);
  });

  it('cancels a booking through ops with its refund sent to the stand-in, found by itself', async () => {
    const demo = await run('npm', ['run', 'demo', '--silent'], plainShell());
    const reference = /booking (PL-[A-Z0-9]+)/.exec(demo.out)?.[1] as string;

    const cancelled = await run('npm', ['run', 'ops', '--silent', '--', 'bookings', 'cancel', reference, '--reason', 'guide ill'], plainShell());

    expect(cancelled).toMatchObject({ code: 0, err: '' });
    expect(cancelled.out).toMatch(/succeeded: 70\.00 \S+ as re_fake_\d+_[0-9a-f]+/);
    // The stand-in sent the refund's refund.created and charge.refunded to the stack's webhook, as Stripe would: its
    // charge's new total is in the payment's record, learned from Stripe's event.
    const booking = await run('npm', ['run', 'ops', '--silent', '--', 'bookings', 'show', reference], plainShell());
    const paymentId = /paymentId\s+(pi_\S+)/.exec(booking.out)?.[1] as string;
    const payment = await run('npm', ['run', 'ops', '--silent', '--', 'payments', 'show', paymentId], plainShell());
    expect(payment).toMatchObject({ code: 0, err: '' });
    expect(payment.out).toMatch(/refunded\s+70\.00 EUR/);
    expect(payment.out).toMatch(/payment\.partially_refunded\s+stripe/);
  });
});
