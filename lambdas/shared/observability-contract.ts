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
  /** Expired holds the hold sweeper left held because a slot of theirs no longer reads as one: a person repairs the slot. */
  unusableSlots: 'UnusableSlots',
  /** Reads of the Stripe secret that failed while a value read before was kept: a rolled key or signing secret is not reaching the function. */
  stripeSecretNotReplaced: 'StripeSecretNotReplaced',
} as const;

/**
 * Error lines the functions write without publishing a metric for them: the hold sweeper publishes no metrics, and the
 * secret's reader is no place to load them. The stack's metric filters count each line, from the log groups of the
 * functions that write it, into its metric, with the line's own `service` as the dimension, so their alarms read these
 * metrics as they read the published ones. The messages are matched whole: change one here, never in a function alone.
 */
export const COUNTED_LOG_LINES = {
  /** The hold sweeper released an expired hold whose trip no longer reads, and left the trip as it is. */
  sweptUnreadableTrip: {
    message: 'A stored trip no longer reads: its expired hold was released, the trip left as it is',
    metric: METRIC.unreadableTrips,
  },
  /** The hold sweeper found a slot that would not take an expired hold's seats back, left that hold held and went on. */
  sweptHoldOnUnusableSlot: {
    message: 'A slot no longer reads: an expired hold on it was left held, the other holds released',
    metric: METRIC.unusableSlots,
  },
  /** A function that reads the Stripe secret could not read it again, and goes on with the value read before. */
  stripeSecretNotReplaced: {
    message: 'The Stripe secret could not be read again: the one read before is still used',
    metric: METRIC.stripeSecretNotReplaced,
  },
} as const;

export type CountedLogLine = (typeof COUNTED_LOG_LINES)[keyof typeof COUNTED_LOG_LINES];
