/** The default wait between device-flow polls; rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * One signal for a login: fires on the caller's signal, on timeout, or when the SDK supersedes the
 * login; `reason` tells which. `dispose` clears the timer so a finished login keeps no handle open.
 */
export function linkedSignal(reasons: { parent?: AbortSignal; timeoutMs?: number; onTimeout?: () => Error; onParentAbort: () => Error }) {
  const controller = new AbortController();
  const abortFromParent = () => controller.abort(reasons.onParentAbort());
  if (reasons.parent?.aborted) abortFromParent();
  reasons.parent?.addEventListener('abort', abortFromParent, { once: true });
  const timer =
    reasons.timeoutMs !== undefined && reasons.onTimeout
      ? setTimeout(() => controller.abort(reasons.onTimeout!()), reasons.timeoutMs)
      : undefined;
  return {
    controller,
    signal: controller.signal,
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      reasons.parent?.removeEventListener('abort', abortFromParent);
    },
  };
}

/** Settles with the promise, or rejects with the signal's reason as soon as it aborts. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
