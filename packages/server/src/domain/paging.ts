import type { Page, PageRequest } from '../domain/types.js';

/** Walks a whole list with checkpoint paging, for the rare admin operation that must see it all. */
export async function* everyItem<T>(list: (page: PageRequest) => Promise<Page<T>>): AsyncGenerator<T> {
  let from: string | undefined;
  do {
    const page = await list({ kind: 'checkpoint', from, take: 100 });
    yield* page.items;
    from = page.next;
  } while (from);
}
