/**
 * WGSL of the workgroup-count kernel of `ops/kernel.ts`: turns counts computed on the GPU into the
 * arguments of an indirect dispatch, so that a kernel over fixed-capacity slots runs only the workgroups
 * that cover the slots in use.
 *
 * The counts are per segment (e.g. per image: `segments` blocks of `stride` rows, the first `counts[b]` of
 * block b in use). The rows in use end at `max_b (b·stride + counts[b])` over the non-empty segments; a
 * dispatch over `unitsPerRow` units per row from unit `firstUnit` on, `unitsPerWorkgroup` units per
 * workgroup, then needs `n = ceil((rows·unitsPerRow − firstUnit) / unitsPerWorkgroup)` workgroups (at most
 * the static count). `axis` 3 folds n into (x, y) within `maxDim` as ops/kernel.ts's `foldWorkgroups` does
 * (shaders rebuild the linear workgroup index from `num_workgroups`); axis 0..2 replaces that axis of the
 * static grid.
 * @module
 */

/**
 * The workgroup-count kernel (one invocation). Bindings: 1 `counts` u32, 2 `args` (3 u32 written).
 *
 * @example
 * ```ts
 * import { DISPATCH_ARGS_WGSL } from "./kernel.wgsl.ts";
 * console.log(DISPATCH_ARGS_WGSL.includes("fn main"));
 * ```
 */
export const DISPATCH_ARGS_WGSL = /* wgsl */ `
struct Params {
  segments: u32, stride: u32, countIndex: u32, unitsPerRow: u32,
  firstUnit: u32, unitsPerWorkgroup: u32, staticCount: u32, maxDim: u32,
  axis: u32, gx: u32, gy: u32, gz: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> counts: array<u32>;
@group(0) @binding(2) var<storage, read_write> args: array<u32, 3>;

@compute @workgroup_size(1)
fn main() {
  var rows = 0u;
  for (var b = 0u; b < p.segments; b++) {
    let c = min(counts[p.countIndex + b], p.stride);
    if (c > 0u) { rows = max(rows, b * p.stride + c); }
  }
  let units = rows * p.unitsPerRow;
  var n = 0u;
  if (units > p.firstUnit) { n = (units - p.firstUnit + p.unitsPerWorkgroup - 1u) / p.unitsPerWorkgroup; }
  n = min(n, p.staticCount);
  var grid = vec3u(p.gx, p.gy, p.gz);
  if (p.axis == 3u) {
    let y = max(1u, (n + p.maxDim - 1u) / p.maxDim);
    grid = vec3u((n + y - 1u) / y, y, 1u);
  } else {
    grid[p.axis] = n;
  }
  args[0] = grid.x;
  args[1] = grid.y;
  args[2] = grid.z;
}
`;
