/**
 * `compute` memoised by its string argument, for pure parses and normalisations that callers repeat
 * (the resolver asks about the same strings often). The cache forgets everything once it holds more
 * than `limit` entries: a cheap bound, since a forgotten entry only costs computing it again. A call
 * that throws caches nothing.
 */
export function memoize<T>(limit: number, compute: (input: string) => T): (input: string) => T {
  const cache = new Map<string, T>();
  return (input) => {
    let value = cache.get(input);
    if (value === undefined) {
      value = compute(input);
      if (cache.size > limit) cache.clear();
      cache.set(input, value);
    }
    return value;
  };
}
