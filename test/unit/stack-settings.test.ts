// The stack's settings: defaults, `-c key=value` strings, and errors naming the key and the value.
import { describe, expect, it } from 'vitest';
import { parseStackSettings } from '../../lib/settings';

describe('parseStackSettings', () => {
  it('has defaults for everything', () => {
    expect(parseStackSettings({})).toEqual({ stage: 'dev', retainData: true, webhookRateLimit: 50, webhookBurstLimit: 100, logRetentionDays: 30 });
  });

  it('accepts the strings `cdk -c` passes', () => {
    expect(parseStackSettings({ retainData: 'false', webhookRateLimit: '20', logRetentionDays: '90' })).toMatchObject({
      retainData: false,
      webhookRateLimit: 20,
      logRetentionDays: 90,
    });
  });

  it.each([
    [{ stage: 'Prod!' }, 'Context setting "stage" must be 1-20 lower-case letters'],
    [{ retainData: 'yes' }, 'Context setting "retainData"'],
    [{ webhookRateLimit: '-1' }, 'Context setting "webhookRateLimit"'],
    [{ logRetentionDays: 31 }, 'Context setting "logRetentionDays" must be one of 1, 3, 5'],
    [{ alarmEmail: 'not-an-email' }, 'Context setting "alarmEmail"'],
    [{ createBookingInvokerRoleArn: 'checkout' }, 'Context setting "createBookingInvokerRoleArn" must be an IAM role ARN (received "checkout")'],
    [{ stagee: 'prod' }, 'Context setting "stagee"'],
  ])('refuses %j naming the key and the value', (context, message) => {
    expect(() => parseStackSettings(context)).toThrow(message);
  });
});
