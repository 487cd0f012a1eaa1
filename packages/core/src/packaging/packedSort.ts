/**
 * Fast ordering shared by PEP 440 and conda versions: common versions (a small epoch and at most
 * four release numbers below 4096) pack into one exact integer that orders like the full sort key,
 * so sorting compares numbers and builds string keys only for the rest.
 */

/** Radix of one packed number: each release number below 4096 takes 12 bits. */
export const PACK_RADIX = 4096;

/**
 * The numbers of a plain `N(.N)*` string, each of at most six digits, or null for anything else
 * (an epoch, letters, an empty number), straight from the string without a full parse.
 */
export function plainNumbers(s: string): number[] | null {
  const nums: number[] = [];
  let cur = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      cur = cur * 10 + (c - 48);
      if (++digits > 6) return null;
    } else if (c === 46 && digits > 0) {
      nums.push(cur);
      cur = 0;
      digits = 0;
    } else return null;
  }
  if (digits === 0) return null;
  nums.push(cur);
  return nums;
}

/**
 * `lead` followed by `width` numbers in base {@link PACK_RADIX}: `nums` up to `length` (default all),
 * padded with zeros. -1 when there are more than `width` numbers or one does not fit.
 */
export function packNumbers(
  lead: number,
  nums: readonly number[],
  width: number,
  length: number = nums.length,
): number {
  if (length > width) return -1;
  let p = lead;
  for (let i = 0; i < width; i++) {
    const x = i < length ? (nums[i] as number) : 0;
    if (x >= PACK_RADIX) return -1;
    p = p * PACK_RADIX + x;
  }
  return p;
}

/** A version string being sorted: `k` is its full sort key, built only when a comparison needs it. */
export interface SortEntry {
  s: string;
  k: string | null;
}

/** How one version scheme sorts its strings through packed numbers. */
export interface PackedOrder<E extends SortEntry> {
  /** The entry of one string, parsed once: its packed numbers, and its key where those do not decide. */
  entry(s: string): E;
  /** Order two entries by their packed numbers, or undefined where only their keys can. */
  compare(a: E, b: E): number | undefined;
  /** The full sort key of a string. */
  key(s: string): string;
}

/** Sort version strings ascending: each parsed once, compared as packed numbers where it can be. */
export function sortPacked<E extends SortEntry>(
  versions: readonly string[],
  order: PackedOrder<E>,
): string[] {
  const entries: E[] = new Array(versions.length);
  for (let i = 0; i < versions.length; i++) entries[i] = order.entry(versions[i] as string);
  entries.sort((a, b) => {
    const d = order.compare(a, b);
    if (d !== undefined) return d;
    if (a.k === null) a.k = order.key(a.s);
    if (b.k === null) b.k = order.key(b.s);
    return a.k < b.k ? -1 : a.k > b.k ? 1 : 0;
  });
  return entries.map((e) => e.s);
}
