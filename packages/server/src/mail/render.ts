import { Liquid, type TagToken } from 'liquidjs';
import { invalidField } from '../domain/errors.js';

/**
 * Liquid for email templates (Auth0's `syntax: 'liquid'`), with nothing to reach but the variables
 * handed in: no file system (include, render and layout are refused when the template is parsed),
 * own properties only (no prototype walking), and bounded parse size, render time and memory, so a
 * template that loops forever or builds a huge string fails instead of holding a node.
 */
const LIMITS = {
  /** Characters of template source parsed at once. */
  parseLimit: 200_000,
  /** Milliseconds of render time (liquidjs checks between nodes). */
  renderLimit: 500,
  /** Roughly, characters allocated by filters and loops in one render. */
  memoryLimit: 4_000_000,
};

const NO_FILES = 'include, render and layout are not available in email templates';

function engine(outputEscape?: 'escape'): Liquid {
  const liquid = new Liquid({
    ...LIMITS,
    // An empty in-memory map instead of the file system: a partial resolves to nothing, ever.
    templates: {},
    ownPropertyOnly: true,
    strictFilters: true,
    ...(outputEscape ? { outputEscape } : {}),
  });
  for (const tag of ['include', 'render', 'layout']) {
    liquid.registerTag(tag, {
      parse(token: TagToken) {
        throw new Error(`${NO_FILES} (${token.name})`);
      },
      render() {
        return '';
      },
    });
  }
  return liquid;
}

export interface MailTemplateSource {
  subject: string;
  from: string;
  /** HTML. */
  body: string;
  /** Plain text; derived from the HTML when absent (a stored Auth0 template has only the HTML body). */
  text?: string;
}

export interface RenderedMail {
  subject: string;
  from: string;
  html: string;
  text: string;
}

export class TemplateRenderer {
  /** HTML bodies: every `{{ }}` output is escaped (`| raw` opts out), so a user's name cannot add markup. */
  private readonly html = engine('escape');
  private readonly plain = engine();

  /** Parses `source` as the field's Liquid, throwing the Management API's 400 when it does not parse. */
  check(field: string, source: string): void {
    try {
      (field === 'body' ? this.html : this.plain).parse(source);
    } catch (err) {
      throw invalidField(field, `${field} is not a valid Liquid template: ${firstLine(err)}`);
    }
  }

  async render(source: MailTemplateSource, variables: Record<string, unknown>): Promise<RenderedMail> {
    const html = await this.html.parseAndRender(source.body, variables);
    const text = source.text !== undefined ? await this.plain.parseAndRender(source.text, variables) : htmlToText(html);
    return {
      subject: oneLine(await this.plain.parseAndRender(source.subject, variables)),
      from: oneLine(await this.plain.parseAndRender(source.from, variables)),
      html,
      text,
    };
  }
}

const firstLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);

/** Subject and From are single header lines: a line break there would start another header. */
const oneLine = (value: string) =>
  value
    .replace(/[\r\n\t]+/g, ' ')
    .trim()
    .slice(0, 998);

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', '#39': "'" };

/** A readable text part from an HTML body: links keep their address, blocks become lines. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(head|style|script|title)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    .replace(/<div[^>]*display:\s*none[^>]*>[\s\S]*?<\/div\s*>/gi, '')
    .replace(/<a\b[^>]*\bhref\s*=\s*"([^"]*)"[^>]*>([\s\S]*?)<\/a\s*>/gi, (_m, href: string, label: string) => {
      const text = label.replace(/<[^>]*>/g, '').trim();
      return text && text !== href ? `${text} (${href})` : href;
    })
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|h[1-6]|tr|li|table|div)\s*>/gi, '\n\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&(#?\w+);/g, (m, name: string) => ENTITIES[name] ?? (name.startsWith('#') ? String.fromCodePoint(Number(name.slice(1))) : m))
    .replace(/[ \t]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
