// Who calls POST /checkout and GET /trips/{tripId}: the one answer both routes of the checkout function take the user from.
import type { APIGatewayProxyEventV2, APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';

export type CallerUser =
  /** The user to act for: the token's subject, or (no JWT authorizer) what the request names, still to be validated. */
  | { readonly ok: true; readonly userId: unknown }
  /** 403: a token that names no user, or a request that names another user than its token. */
  | { readonly ok: false; readonly error: 'FORBIDDEN'; readonly message: string };

/** A subject that names a user: API Gateway hands claims over as strings, and an absent or empty one names nobody. */
function namesAUser(subject: unknown): subject is string {
  return typeof subject === 'string' && subject !== '';
}

/**
 * The caller's user. Where a JWT authorizer vouched for the caller, its token's `sub` and nothing else: a token
 * without one (a machine token of some issuers) is refused rather than trusted to name whomever the request says, and
 * a request naming another user than its token is refused too. Without a JWT (IAM-signed callers, local use), the
 * user the request names (`named`: the body's or the query's `userId`).
 */
export function callerUser(event: APIGatewayProxyEventV2, named: unknown): CallerUser {
  const jwt = (event as APIGatewayProxyEventV2WithJWTAuthorizer).requestContext.authorizer?.jwt;
  if (jwt === undefined) return { ok: true, userId: named };
  const subject: unknown = jwt.claims?.sub;
  if (!namesAUser(subject)) return { ok: false, error: 'FORBIDDEN', message: 'The token names no user (no sub claim).' };
  if (named !== undefined && named !== subject) return { ok: false, error: 'FORBIDDEN', message: 'userId must be the caller’s own' };
  return { ok: true, userId: subject };
}
