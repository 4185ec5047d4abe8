// Stores that force two paths into one interleaving, without a sleep: a first commit held until the test lets it go, or each commit seen first by a hook that may commit something else.
import type { AtomicWrite, BookingStore } from '../../lambdas/shared/domain/booking-store';

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

/** `store`, every commit first seen by `before` (which may commit something else first: the other path, in between). */
export function committingFirst<Store extends BookingStore>(store: Store, before: (write: AtomicWrite) => Promise<void>): Store {
  const wrapped = Object.create(store) as Store;
  wrapped.commit = async (write) => {
    await before(write);
    return store.commit(write);
  };
  return wrapped;
}
