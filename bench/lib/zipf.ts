// A Zipf(s) sampler over ranks 0..n-1 (rank 0 the most popular): the cumulative distribution is
// computed once, each draw is a binary search over it.

/** Returns a function mapping a uniform [0, 1) draw to a rank. */
export function zipfSampler(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let rank = 0; rank < n; rank++) cdf[rank] = total += 1 / Math.pow(rank + 1, s);
  for (let rank = 0; rank < n; rank++) cdf[rank]! /= total;
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}
