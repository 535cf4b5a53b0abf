import { invalid } from '../domain/errors.js';

/**
 * The part of Auth0's log search syntax (Lucene, https://auth0.com/docs/logs/log-search-query-syntax)
 * that SQL answers exactly: `field:value`, `field:"quoted value"`, `field:(a OR b)`, and
 * `date:[A TO B]` (`{}` for exclusive ends, `*` for an open one), clauses joined by whitespace or
 * `AND`. Anything else (wildcards, OR between fields, NOT, other fields) is a 400, never a partial answer.
 */
export const SEARCHABLE_LOG_FIELDS = [
  'type',
  'user_id',
  'user_name',
  'client_id',
  'client_name',
  'connection',
  'connection_id',
  'ip',
  'hostname',
  'audience',
  'strategy',
  'strategy_type',
  'log_id',
] as const;

export type SearchableLogField = (typeof SEARCHABLE_LOG_FIELDS)[number];

export interface LogFilter {
  /** Every field listed must equal one of its values. */
  equals: Partial<Record<SearchableLogField, string[]>>;
  /** ISO 8601 bounds on `date`. */
  date?: { after?: string; afterInclusive?: boolean; before?: string; beforeInclusive?: boolean };
}

const MAX_QUERY_LENGTH = 1024;
const MAX_VALUES = 50;

const badQuery = (message: string) => invalid(`Invalid query string: ${message}`, 'invalid_query_string');

/** One token: `field:`, a quoted or bare word, a range, `(`, `)`, `AND`, `OR`. */
const TOKEN = /\s*(?:([A-Za-z_.]+):|"((?:[^"\\]|\\.)*)"|([[{])\s*(\S+)\s+TO\s+(\S+?)\s*([\]}])|(\()|(\))|([^\s()":[\]{}]+))/y;

type Token =
  | { kind: 'field'; name: string }
  | { kind: 'word'; value: string; quoted: boolean }
  | { kind: 'range'; from: string; to: string; fromInclusive: boolean; toInclusive: boolean }
  | { kind: 'open' | 'close' };

function tokenize(q: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < q.length) {
    if (/^\s*$/.test(q.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(q);
    if (!m) throw badQuery(`unexpected input at position ${at}`);
    at = TOKEN.lastIndex;
    if (m[1] !== undefined) tokens.push({ kind: 'field', name: m[1] });
    else if (m[2] !== undefined) tokens.push({ kind: 'word', value: m[2].replace(/\\(.)/g, '$1'), quoted: true });
    else if (m[3] !== undefined) {
      tokens.push({ kind: 'range', from: m[4]!, to: m[5]!, fromInclusive: m[3] === '[', toInclusive: m[6] === ']' });
    } else if (m[7] !== undefined) tokens.push({ kind: 'open' });
    else if (m[8] !== undefined) tokens.push({ kind: 'close' });
    else tokens.push({ kind: 'word', value: m[9]!, quoted: false });
  }
  return tokens;
}

/** A date bound: ISO 8601 (a date alone means its midnight UTC), or `*` for none. */
function dateBound(text: string): string | undefined {
  if (text === '*') return undefined;
  const unquoted = text.replace(/^"|"$/g, '');
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(unquoted)) {
    throw badQuery(`'${text}' is not a date (use ISO 8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z)`);
  }
  const withZone = /T|\s/.test(unquoted) && !/(Z|[+-]\d{2}:?\d{2})$/.test(unquoted) ? `${unquoted}Z` : unquoted;
  const ms = Date.parse(withZone.replace(' ', 'T'));
  if (Number.isNaN(ms)) throw badQuery(`'${text}' is not a date`);
  return new Date(ms).toISOString();
}

function plainValue(token: Token | undefined, field: string): string {
  if (token?.kind !== 'word') throw badQuery(`a value must follow ${field}:`);
  if (!token.quoted && /[*?~^\\]/.test(token.value)) throw badQuery(`wildcards and fuzzy terms are not supported (${token.value})`);
  if (!token.quoted && (token.value === 'AND' || token.value === 'OR' || token.value === 'NOT')) {
    throw badQuery(`a value must follow ${field}:`);
  }
  if (token.value.length === 0 || token.value.length > 256 || token.value.includes('\u0000')) throw badQuery(`bad value for ${field}`);
  return token.value;
}

export function parseLogQuery(q: string | undefined): LogFilter {
  const filter: LogFilter = { equals: {} };
  if (q === undefined || q.trim() === '') return filter;
  if (q.length > MAX_QUERY_LENGTH) throw badQuery(`at most ${MAX_QUERY_LENGTH} characters`);
  const tokens = tokenize(q);
  let values = 0;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'word' && !token.quoted && token.value === 'AND' && i > 0 && i < tokens.length - 1) continue;
    if (token.kind !== 'field') {
      const text = token.kind === 'word' ? token.value : token.kind;
      throw badQuery(
        text === 'OR' || text === 'NOT'
          ? `${text} is only supported inside field:(a OR b)`
          : `expected field:value, found '${text}' (searchable fields: date, ${SEARCHABLE_LOG_FIELDS.join(', ')})`,
      );
    }
    const name = token.name;
    const next = tokens[i + 1];
    if (name === 'date') {
      if (next?.kind !== 'range') throw badQuery('date takes a range: date:[2026-01-01 TO 2026-01-31]');
      if (filter.date) throw badQuery('date given twice');
      const after = dateBound(next.from);
      const before = dateBound(next.to);
      filter.date = {
        ...(after !== undefined ? { after, afterInclusive: next.fromInclusive } : {}),
        ...(before !== undefined ? { before, beforeInclusive: next.toInclusive } : {}),
      };
      i++;
      continue;
    }
    if (!(SEARCHABLE_LOG_FIELDS as readonly string[]).includes(name)) {
      throw badQuery(`'${name}' is not a searchable field (searchable: date, ${SEARCHABLE_LOG_FIELDS.join(', ')})`);
    }
    const field = name as SearchableLogField;
    if (filter.equals[field]) throw badQuery(`${field} given twice (use ${field}:(a OR b))`);
    const list: string[] = [];
    if (next?.kind === 'open') {
      let j = i + 2;
      for (;;) {
        list.push(plainValue(tokens[j], field));
        const after = tokens[j + 1];
        if (after?.kind === 'close') break;
        if (after?.kind !== 'word' || after.quoted || after.value !== 'OR') throw badQuery(`expected OR or ) in ${field}:( ... )`);
        j += 2;
      }
      i = j + 1;
    } else {
      list.push(plainValue(next, field));
      i++;
    }
    values += list.length;
    if (values > MAX_VALUES) throw badQuery(`at most ${MAX_VALUES} values`);
    filter.equals[field] = list;
  }
  return filter;
}
