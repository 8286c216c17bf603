/**
 * Calls `fn(xi, wi, gi)` for every term x[xi]·w[wi] of a zero-padded k×k convolution that lands in output
 * element gi (the forward sums these into y[gi]; the input and weight gradients multiply them by g[gi]), in
 * (b, oy, ox, ky, kx, co, ci) order: x NHWC `[n, h, w, cin]`, w torch `[cout, cin, k, k]`, y and g NHWC
 * `[n, ho, wo, cout]`. Shared by the float64 references of tests/ops/conv2d_test.ts and
 * tests/ops/conv2d_backward_test.ts.
 */
export function forEachConvTerm(
  d: { n: number; h: number; w: number; cin: number; cout: number; k: number; stride: number; pad: number },
  fn: (xi: number, wi: number, gi: number) => void,
): void {
  const { n, h, w, cin, cout, k, stride, pad } = d;
  const ho = Math.floor((h + 2 * pad - k) / stride) + 1;
  const wo = Math.floor((w + 2 * pad - k) / stride) + 1;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++) {
            const iy = oy * stride - pad + ky;
            const ix = ox * stride - pad + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            for (let co = 0; co < cout; co++) {
              const gi = ((b * ho + oy) * wo + ox) * cout + co;
              for (let ci = 0; ci < cin; ci++) {
                fn(((b * h + iy) * w + ix) * cin + ci, ((co * cin + ci) * k + ky) * k + kx, gi);
              }
            }
          }
        }
      }
    }
  }
}
