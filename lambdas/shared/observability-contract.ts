// The names the functions publish logs and metrics under and the stack's alarms watch, free of imports so that
// `cdk synth` reads them without loading Powertools.

export const SERVICE_NAME = 'booking-confirmation';
export const METRICS_NAMESPACE = 'PulauBookings';

/** Metric names, as the stack's alarms refer to them. */
export const METRIC = {
  confirmations: 'Confirmations',
  refunds: 'Refunds',
  paymentsSetAside: 'PaymentsSetAside',
  duplicates: 'DuplicateDeliveries',
  signatureFailures: 'SignatureFailures',
  retryLater: 'RetryLater',
  /** Events the reconciliation sweep processed before any webhook delivery of them had been: the webhook is losing deliveries. */
  missedDeliveries: 'MissedDeliveries',
  /** Runs of the sweep that found its cursor older than the events Stripe still lists: those created in between are out of its reach. */
  eventsBeyondReach: 'EventsBeyondReach',
  paymentsNeedingAttention: 'PaymentsNeedingAttention',
  /** Refunds stored as requested that the reconciliation sweep asked Stripe for again, and got an answer to. */
  refundsResumed: 'RefundsResumed',
  /** Refunds still unanswered by Stripe more than an hour after they were stored, as the sweep's last run counted them. */
  overdueRefunds: 'OverdueRefunds',
  unusableEvents: 'UnusableEvents',
  /** Answers of Stripe refusing our API key (401) or its permissions (403): nothing that calls Stripe works until a person replaces it. */
  stripeKeyRejected: 'StripeKeyRejected',
  modeMismatches: 'ModeMismatches',
  /** Trips booked by their traveller's return (GET /trips/{tripId}) before their webhook arrived. */
  bookedOnReturn: 'BookedOnReturn',
  /** Returns that could not ask Stripe for the session (the stored state was answered). */
  returnChecksUnavailable: 'ReturnChecksUnavailable',
  /** Reads of a stored trip that no longer reads as one (GET /trips/{tripId} answered it as missing): a person repairs the item. */
  unreadableTrips: 'UnreadableTrips',
} as const;
