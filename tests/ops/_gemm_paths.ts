/**
 * The direct-GEMM paths a conv test runs, as [weights through a texture, subgroup broadcast of A, rows
 * fitted to the GEMM (ops/conv2d.ts FIT_ROWS)]: every texture / subgroup combination with fitted rows, and
 * the two extremes with the default rows. All must give the same bits.
 */
export const PATHS: readonly (readonly [boolean, boolean, boolean])[] = [
  [true, true, true],
  [true, false, true],
  [false, true, true],
  [false, false, true],
  [true, true, false],
  [false, false, false],
];
