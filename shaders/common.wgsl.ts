/**
 * WGSL snippets shared by many shaders. Shader sources import nothing; op wrappers concatenate these.
 * @module
 */

/** Threads per workgroup of the 1-D elementwise kernels. */
export const WORKGROUP_1D = 256;

/**
 * The linear invocation index of a 1-D kernel dispatched on a folded 2-D grid (see `ops/kernel.ts`).
 * Declares `fn linearIndex(wid, lid, nwg) -> u32`.
 *
 * @example
 * ```ts
 * import { LINEAR_INDEX_WGSL } from "./common.wgsl.ts";
 * console.log(LINEAR_INDEX_WGSL.includes("fn linearIndex"));
 * ```
 */
export const LINEAR_INDEX_WGSL = /* wgsl */ `
fn linearIndex(wid: vec3u, lid: vec3u, nwg: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * ${WORKGROUP_1D}u + lid.x;
}
`;

/** The builtins every 1-D kernel's `main` takes. */
export const MAIN_1D_ARGS =
  "@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(num_workgroups) nwg: vec3u";
