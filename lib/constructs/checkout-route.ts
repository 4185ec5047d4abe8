// POST /checkout and GET /trips/{tripId} on the public HTTP API, never open: one authorizer for both, JWT when an issuer
// is configured, else AWS IAM (SigV4).
import { HttpMethod, PayloadFormatVersion, type HttpApi, type HttpRoute, type HttpStage, type IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { CHECKOUT_PATH, TRIP_INVOKE_PATH, TRIP_PATH } from '../../lambdas/checkout/checkout-contract';

export interface CheckoutRouteProps {
  /** The API (and its throttled, access-logged stage) the route joins. */
  readonly api: HttpApi;
  readonly stage: HttpStage;
  /** Serves both routes: it tells them apart by the event's `routeKey`. */
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
  /** GET /trips/{tripId}: a traveller's trip, behind the same authorizer. */
  readonly tripRoute: HttpRoute;
  /** The URL of GET /trips/{tripId}, with `{tripId}` to fill in. */
  readonly tripUrl: string;
  /** The `execute-api:Invoke` resource of every trip's GET, for the IAM policies of IAM-signed callers. */
  readonly tripInvokeArn: string;

  constructor(scope: Construct, id: string, props: CheckoutRouteProps) {
    super(scope, id);
    let authorizer: IHttpRouteAuthorizer;
    if (props.jwt) {
      authorizer = new HttpJwtAuthorizer('CheckoutJwt', props.jwt.issuer, { jwtAudience: [props.jwt.audience] });
      this.authorization = `JWT: "Authorization: Bearer <token>" issued by ${props.jwt.issuer} for audience ${props.jwt.audience}; the user is the token's sub`;
    } else {
      authorizer = new HttpIamAuthorizer();
      this.authorization =
        "AWS IAM: SigV4-signed requests of principals allowed execute-api:Invoke on CheckoutInvokeArn (TripInvokeArn for trips); the user is the body's userId (the query's on GET /trips/{tripId})";
    }
    // One integration and one authorizer object for both routes: the JWT authorizer is created once, on the first route
    // it is bound to (POST /checkout, as before the trip route existed), so its logical id does not move.
    const integration = new HttpLambdaIntegration('Checkout', props.handler, { payloadFormatVersion: PayloadFormatVersion.VERSION_2_0 });
    [this.route] = props.api.addRoutes({ path: CHECKOUT_PATH, methods: [HttpMethod.POST], integration, authorizer }) as [HttpRoute];
    [this.tripRoute] = props.api.addRoutes({ path: TRIP_PATH, methods: [HttpMethod.GET], integration, authorizer }) as [HttpRoute];
    const base = props.stage.url.replace(/\/$/, '');
    this.url = `${base}${CHECKOUT_PATH}`;
    this.invokeArn = props.api.arnForExecuteApi(HttpMethod.POST, CHECKOUT_PATH, props.stage.stageName);
    this.tripUrl = `${base}${TRIP_PATH}`;
    this.tripInvokeArn = props.api.arnForExecuteApi(HttpMethod.GET, TRIP_INVOKE_PATH, props.stage.stageName);
  }
}
