import type { FetchLike } from '../../src/index.js';

export interface RecordedRequest {
  url: string;
  grantType: string | undefined;
}

/** The real fetch, with a log of every request the SDK makes, so tests count token requests. */
export function countingFetch() {
  const requests: RecordedRequest[] = [];
  const fetchImpl: FetchLike = (input, init) => {
    const body = typeof init?.body === 'string' ? new URLSearchParams(init.body) : undefined;
    requests.push({ url: String(input), grantType: body?.get('grant_type') ?? undefined });
    return fetch(input, init);
  };
  return {
    fetch: fetchImpl,
    requests,
    grants: (grantType: string) => requests.filter((r) => r.grantType === grantType).length,
  };
}
