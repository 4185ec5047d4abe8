// POST /checkout on the public HTTP API, never open: a JWT authorizer when an issuer is configured, else AWS IAM (SigV4).
import { HttpMethod, PayloadFormatVersion, type HttpApi, type HttpRoute, type HttpStage, type IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { CHECKOUT_PATH } from '../../lambdas/checkout/checkout-contract';

export interface CheckoutRouteProps {
  /** The API (and its throttled, access-logged stage) the route joins. */
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly handler: IFunction;
  /**
   * Bearer tokens of this issuer, for this audience, are accepted; the paying user is the token's `sub`.
   * @default - no JWT: callers sign their requests with AWS credentials allowed `execute-api:Invoke` on the route
   */
  readonly jwt?: { readonly issuer: string; readonly audience: string };
}

export class CheckoutRoute extends Construct {
  readonly route: HttpRoute;
  /** The full URL of POST /checkout. */
  readonly url: string;
  /** The `execute-api:Invoke` resource of the route, for the IAM policies of IAM-signed callers. */
  readonly invokeArn: string;
  /** How a caller is authenticated, in words, for outputs and docs. */
  readonly authorization: string;

  constructor(scope: Construct, id: string, props: CheckoutRouteProps) {
    super(scope, id);
    let authorizer: IHttpRouteAuthorizer;
    if (props.jwt) {
      authorizer = new HttpJwtAuthorizer('CheckoutJwt', props.jwt.issuer, { jwtAudience: [props.jwt.audience] });
      this.authorization = `JWT: "Authorization: Bearer <token>" issued by ${props.jwt.issuer} for audience ${props.jwt.audience}; the user is the token's sub`;
    } else {
      authorizer = new HttpIamAuthorizer();
      this.authorization = "AWS IAM: SigV4-signed requests of principals allowed execute-api:Invoke on CheckoutInvokeArn; the user is the body's userId";
    }
    [this.route] = props.api.addRoutes({
      path: CHECKOUT_PATH,
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration('Checkout', props.handler, { payloadFormatVersion: PayloadFormatVersion.VERSION_2_0 }),
      authorizer,
    }) as [HttpRoute];
    this.url = `${props.stage.url.replace(/\/$/, '')}${CHECKOUT_PATH}`;
    this.invokeArn = props.api.arnForExecuteApi(HttpMethod.POST, CHECKOUT_PATH, props.stage.stageName);
  }
}
