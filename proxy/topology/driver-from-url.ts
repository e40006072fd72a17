/**
 * `--coordinator URL` -> a TopologyDriver following that coordinator (etcd://host:port[,..]/cluster or
 * memory://cluster). The URL is validated at once (throws REDSLOT_ERR_COORDINATOR_URL_INVALID), the
 * coordinator is opened when the driver starts and closed when it stops.
 */
import { openCoordinator, parseCoordinatorUrl, type OpenCoordinatorOptions } from '../../shared/coordinator/index.js';
import type { ProxyRuntime } from '../runtime.js';
import { CoordinatorFollower, type FollowerDriver, type FollowerOptions, type FollowerState } from './follower.js';

export type DriverFromUrlOptions = Omit<FollowerOptions, 'coordinator' | 'cluster' | 'closeCoordinatorOnStop'> & {
  coordinatorOptions?: OpenCoordinatorOptions;
};

export function topologyDriverFromUrl(url: string, opts: DriverFromUrlOptions): FollowerDriver {
  const parsed = parseCoordinatorUrl(url);
  let follower: CoordinatorFollower | undefined;
  const driver = (async (runtime: ProxyRuntime) => {
    const { coordinator } = await openCoordinator(url, opts.coordinatorOptions);
    follower = new CoordinatorFollower({ ...opts, coordinator, cluster: parsed.cluster, closeCoordinatorOnStop: true });
    try {
      return await follower.start(runtime);
    } catch (err) {
      await follower.stop();
      throw err;
    }
  }) as FollowerDriver;
  driver.state = (): FollowerState | null => follower?.state() ?? null;
  return driver;
}
