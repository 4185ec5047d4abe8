// The CDK app: reads and validates the settings, builds the booking stack, and checks it with cdk-nag.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BookingStack } from '../lib/booking-stack';
import { parseStackSettings, SettingsError, settingsIn } from '../lib/settings';

const app = new App();
try {
  const settings = parseStackSettings(settingsIn(app.node.getAllContext() as Record<string, unknown>));
  // The stack's name: a new one would deploy a second stack beside the first, not update it.
  new BookingStack(app, `PulauBookings-${settings.stage}`, {
    settings,
    description: `Booking confirmation (${settings.stage}): Stripe webhook -> Lambda -> DynamoDB transaction`,
    env: {
      ...(process.env.CDK_DEFAULT_ACCOUNT !== undefined && { account: process.env.CDK_DEFAULT_ACCOUNT }),
      ...(process.env.CDK_DEFAULT_REGION !== undefined && { region: process.env.CDK_DEFAULT_REGION }),
    },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(error.message);
  process.exit(1);
}
