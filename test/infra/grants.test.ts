// The grants of the constructs that own the resources, and the ids that are part of the stack's contract.
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { StripeSecret } from '../../lib/constructs/stripe-secret';
import type { Statement } from './stack-fixture';

/** A stack of the secret and one bare role, with `grant` applied to the role; the role's statements. */
function statementsGranted(grant: (resources: { secret: StripeSecret; role: Role }) => void): Statement[] {
  const stack = new Stack(new App(), 'Grants');
  const resources = { secret: new StripeSecret(stack, 'StripeSecret'), role: new Role(stack, 'Grantee', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') }) };
  grant(resources);
  const template = Template.fromStack(stack);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as { Properties: { PolicyDocument: { Statement: Statement[] } } }[];
  return policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

describe('StripeSecret', () => {
  it('grantRead allows GetSecretValue on this secret only (no DescribeSecret), under the Sid StripeSecret', () => {
    expect(statementsGranted(({ secret, role }) => secret.grantRead(role))).toEqual([
      { Sid: 'StripeSecret', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: { Ref: expect.stringMatching(/^StripeSecret/) } },
    ]);
  });

  it('keeps the logical id of the Secret it wraps, so the secret and its values are never replaced', () => {
    const logicalIdOf = (build: (stack: Stack) => void): string[] => {
      const stack = new Stack(new App(), 'Secrets');
      build(stack);
      return Object.keys(Template.fromStack(stack).findResources('AWS::SecretsManager::Secret'));
    };
    expect(logicalIdOf((stack) => new StripeSecret(stack, 'StripeSecret'))).toEqual(logicalIdOf((stack) => new Secret(stack, 'StripeSecret')));
  });
});
