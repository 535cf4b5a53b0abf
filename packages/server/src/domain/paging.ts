import type { Page, PageRequest } from '../domain/types.js';
import { invalidField } from './errors.js';

/** Walks a whole list with checkpoint paging, for the rare admin operation that must see it all. */
export async function* everyItem<T>(list: (page: PageRequest) => Promise<Page<T>>): AsyncGenerator<T> {
  let from: string | undefined;
  do {
    const page = await list({ kind: 'checkpoint', from, take: 100 });
    yield* page.items;
    from = page.next;
  } while (from);
}

/**
 * A filtered (and optionally sorted) list: every item is read and kept or not here, then paged by
 * offset, the only paging Auth0 offers for filtered lists.
 */
export async function scanPage<T>(
  list: (page: PageRequest) => Promise<Page<T>>,
  select: { keep: (item: T) => boolean; compare?: (a: T, b: T) => number },
  page: PageRequest,
): Promise<Page<T>> {
  if (page.kind !== 'offset') {
    throw invalidField('from', 'from/take cannot be combined with filters; use page and per_page');
  }
  const found: T[] = [];
  for await (const item of everyItem(list)) if (select.keep(item)) found.push(item);
  if (select.compare) found.sort(select.compare);
  return { items: found.slice(page.offset, page.offset + page.limit), total: found.length };
}
