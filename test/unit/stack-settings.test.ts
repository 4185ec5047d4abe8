// The stack's settings: defaults, `-c key=value` strings, typos of their keys, and errors naming the key and the value.
import { describe, expect, it } from 'vitest';
import { parseStackSettings, settingsIn } from '../../lib/settings';

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
    [{ retainData: 'yes' }, 'Context setting "retainData" must be true or false (received "yes")'],
    [{ retainData: 1 }, 'Context setting "retainData" must be true or false (received 1)'],
    [{ webhookRateLimit: '-1' }, 'Context setting "webhookRateLimit"'],
    [{ logRetentionDays: 31 }, 'Context setting "logRetentionDays" must be one of 1, 3, 5'],
    [{ alarmEmail: 'not-an-email' }, 'Context setting "alarmEmail"'],
    [{ createBookingInvokerRoleArn: 'checkout' }, 'Context setting "createBookingInvokerRoleArn" must be an IAM role ARN (received "checkout")'],
    [{ stagee: 'prod' }, 'Context setting "stagee" is not a setting of this app (did you mean "stage"?'],
    // cdk.json's values are JSON: only a number (or digits, as `-c` passes them) is read as one.
    [{ logRetentionDays: true }, 'Context setting "logRetentionDays" must be one of 1, 3, 5'],
    [{ webhookRateLimit: true }, 'Context setting "webhookRateLimit" must be a whole number above 0 (received true)'],
    [{ reconciliationMinutes: [60] }, 'Context setting "reconciliationMinutes" must be whole minutes from 5 to 1440 (received [60])'],
    [{ checkoutHoldMinutes: ' 45' }, 'Context setting "checkoutHoldMinutes" must be whole minutes from 30 to 1440'],
  ])('refuses %j naming the key and the value', (context, message) => {
    expect(() => parseStackSettings(context)).toThrow(message);
  });
});

describe('settingsIn (what the app hands parseStackSettings from its whole context)', () => {
  const context = {
    stage: 'prod',
    alarmemail: 'ops@example.com',
    RETAIN_DATA: 'false',
    '@aws-cdk/core:checkSecretUsage': true,
    '@aws-cdk/core:failSynthOnValidationErrors': true,
    'aws:cdk:enable-path-metadata': true,
    'acknowledged-issue-numbers': [12345],
    'availability-zones:account=123456789012:region=eu-west-1': ['eu-west-1a'],
  };

  it('keeps the app’s settings and the keys a typo away from one, and leaves CDK’s own alone', () => {
    expect(settingsIn(context)).toEqual({ stage: 'prod', alarmemail: 'ops@example.com', RETAIN_DATA: 'false' });
  });

  it.each([
    ['STAGE', 'stage'],
    ['ALARM_EMAIL', 'alarmEmail'],
    ['alarm-email', 'alarmEmail'],
    ['reconcilationMinutes', 'reconciliationMinutes'],
  ])('refuses %s, written in another case or with separators, as the setting %s', (key, meant) => {
    expect(() => parseStackSettings(settingsIn({ [key]: 'x' }))).toThrow(`Context setting "${key}" is not a setting of this app (did you mean "${meant}"?`);
  });

  it('so a mistyped alarmEmail is refused instead of deploying an alarm topic nobody is subscribed to', () => {
    expect(() => parseStackSettings(settingsIn(context))).toThrow('Context setting "alarmemail" is not a setting of this app (did you mean "alarmEmail"?');
  });
});
