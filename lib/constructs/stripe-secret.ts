// The Stripe secret: the API key and the webhook signing secret(s), issued and rolled in Stripe, read by the functions that call or verify Stripe.
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface StripeSecretProps {
  /**
   * Keep the secret when the stack is deleted. Turn off only for throwaway development stacks.
   * @default true
   */
  readonly retainData?: boolean;
}

export class StripeSecret extends Construct {
  readonly secret: Secret;

  constructor(scope: Construct, id: string, props: StripeSecretProps = {}) {
    super(scope, id);
    // The id `Default` is part of the contract: CDK leaves it out of logical ids, so the secret keeps the logical id it
    // had before this construct wrapped it. Any other id would make CloudFormation replace the secret, values and all.
    this.secret = new Secret(this, 'Default', {
      description: 'Stripe API key and webhook signing secret(s), as {"apiKey":"sk_...","webhookSigningSecrets":["whsec_..."]}',
      removalPolicy: (props.retainData ?? true) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Stripe keys and signing secrets are issued and rolled in the Stripe dashboard, not by a rotation Lambda; the README explains the roll.',
    });
  }

  get secretArn(): string {
    return this.secret.secretArn;
  }

  /**
   * Lets `grantee` read the secret's value, and nothing else: unlike `Secret.grantRead`, no DescribeSecret. The statement
   * carries the Sid `StripeSecret`, which names the permission in the role's policy.
   */
  grantRead(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ sid: 'StripeSecret', actions: ['secretsmanager:GetSecretValue'], resources: [this.secret.secretArn] }),
    );
  }
}
