/** Bounding a step's waits while the slots are held (lockTimeoutMs): a frozen server must not hold clients longer. */

/** `p`, or `onTimeout()`'s error once `deadline` (epoch ms) passes first. */
export function beforeDeadline<T>(p: Promise<T>, deadline: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
