// A store whose first commit waits until the test lets it go: two paths forced into one interleaving, without a sleep.
import type { BookingStore } from '../../lambdas/shared/domain/booking-store';

export interface HeldStore<Store extends BookingStore> {
  /** The store, every call passed through; its first commit waits for `release`. */
  readonly store: Store;
  /** Resolves once the first commit has been asked for (and is being held). */
  readonly reached: Promise<void>;
  release(): void;
}

export function holdFirstCommit<Store extends BookingStore>(store: Store): HeldStore<Store> {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (arrive = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  let held = false;
  const commit: BookingStore['commit'] = async (write) => {
    if (!held) {
      held = true;
      arrive();
      await released;
    }
    return store.commit(write);
  };
  const proxy = new Proxy(store, {
    get(target, property) {
      if (property === 'commit') return commit;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: proxy, reached, release };
}
