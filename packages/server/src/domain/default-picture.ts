import { createHash } from 'node:crypto';
import type { User } from '../domain/types.js';

/**
 * Auth0 gives every user a `picture` (Gravatar, falling back to an initials image on its CDN), and
 * apps built from its tutorials show it. latchkey does the same without a third party: users
 * without a picture get an initials avatar that latchkey serves itself, or optionally Gravatar
 * with that avatar as its fallback. Computed when the user is shown, never stored, so it follows
 * the issuer and the setting.
 */
export type DefaultPictureMode = 'initials' | 'gravatar';

export interface PictureSettings {
  issuer: string;
  mode: DefaultPictureMode;
}

/** The only file names the avatar route answers: one or two lowercase ASCII letters, or `default`. */
export const AVATAR_FILE = /^([a-z]{1,2}|default)\.svg$/;

/** Letters only, diacritics removed (É → e); anything else (CJK, emoji, markup) is not an initial. */
function asciiLetters(word: string): string {
  return word
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z]/g, '');
}

/**
 * Two initials as Auth0 draws them: first and last word of the name ("Ada Lovelace" → al), or the
 * first two letters of a single word; the email's local part when there is no other name.
 */
export function avatarInitials(user: Pick<User, 'name' | 'given_name' | 'family_name' | 'nickname' | 'email'>): string {
  const looksLikeEmail = (value: string | undefined) => value?.includes('@');
  const candidates = [
    user.given_name && user.family_name ? `${user.given_name} ${user.family_name}` : undefined,
    looksLikeEmail(user.name) ? undefined : user.name,
    looksLikeEmail(user.nickname) ? undefined : user.nickname,
    user.email?.split('@')[0],
  ];
  for (const candidate of candidates) {
    const words = (candidate ?? '')
      .split(/[\s._\-+]+/)
      .map(asciiLetters)
      .filter(Boolean);
    if (words.length === 0) continue;
    return words.length > 1 ? `${words[0]![0]}${words[words.length - 1]![0]}` : words[0]!.slice(0, 2);
  }
  return '';
}

export const avatarUrl = (issuer: string, initials: string): string => `${issuer}avatars/${initials || 'default'}.svg`;

/** Gravatar's URL for an email (the md5 of the trimmed, lowercased address), as Auth0 builds it. */
export function gravatarUrl(email: string, fallback: string): string {
  const hash = createHash('md5').update(email.trim().toLowerCase()).digest('hex');
  return `https://s.gravatar.com/avatar/${hash}?s=480&r=pg&d=${encodeURIComponent(fallback)}`;
}

export function defaultPicture(user: User, settings: PictureSettings): string {
  const initials = avatarUrl(settings.issuer, avatarInitials(user));
  return settings.mode === 'gravatar' && user.email ? gravatarUrl(user.email, initials) : initials;
}

/** The user as shown (tokens, /userinfo, the Management API): their own picture, or the default. */
export function withDefaultPicture(user: User, settings: PictureSettings): User {
  return user.picture ? user : { ...user, picture: defaultPicture(user, settings) };
}

/** Background colours with white text at a contrast ratio of 4.5 or more; picked by the initials. */
const COLOURS = [
  '#1e6fd9',
  '#0f7b6c',
  '#8a4baf',
  '#c2410c',
  '#b4235a',
  '#3f6212',
  '#0e7490',
  '#6d28d9',
  '#a16207',
  '#be123c',
  '#4338ca',
  '#047857',
];

/**
 * The avatar image. Its only variable part is checked against AVATAR_FILE first, and the SVG
 * contains no script, link or style: text and shapes with fixed attributes.
 */
export function avatarSvg(name: string): string | undefined {
  const match = AVATAR_FILE.exec(name);
  if (!match) return undefined;
  const initials = match[1] === 'default' ? '' : match[1]!;
  const colour = COLOURS[createHash('sha256').update(initials).digest()[0]! % COLOURS.length]!;
  const content = initials
    ? `<text x="64" y="64" dy="0.35em" text-anchor="middle" fill="#ffffff" ` +
      `font-family="Helvetica, Arial, sans-serif" font-size="52" font-weight="600">${initials.toUpperCase()}</text>`
    : '<circle cx="64" cy="50" r="22" fill="#ffffff" fill-opacity="0.9"/>' +
      '<path d="M24 112c4-24 20-36 40-36s36 12 40 36z" fill="#ffffff" fill-opacity="0.9"/>';
  const label = initials ? initials.toUpperCase() : 'User';
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128" role="img" aria-label="${label}">` +
    `<rect width="128" height="128" fill="${initials ? colour : '#64748b'}"/>${content}</svg>`
  );
}
