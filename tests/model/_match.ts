/**
 * Matching of two detection lists (ours vs torchvision's) for the parity tests: every detection of either
 * side must have a partner with the same label, box IoU ≥ minBoxIou, |Δscore| ≤ maxScoreDiff and mask
 * IoU ≥ minMaskIou.
 * @module
 */

/** One side's detections of one image. */
export interface DetectionList {
  count: number;
  boxes: ArrayLike<number>;
  scores: ArrayLike<number>;
  labels: ArrayLike<number>;
  /** count × plane 0/1 bytes. */
  masks?: Uint8Array;
}

/** IoU of boxes i of `a` and j of `b` (x1, y1, x2, y2). */
export function boxIou(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  const w = Math.min(a[4 * i + 2], b[4 * j + 2]) - Math.max(a[4 * i], b[4 * j]);
  const h = Math.min(a[4 * i + 3], b[4 * j + 3]) - Math.max(a[4 * i + 1], b[4 * j + 1]);
  const inter = Math.max(0, w) * Math.max(0, h);
  const area = (k: ArrayLike<number>, n: number) => (k[4 * n + 2] - k[4 * n]) * (k[4 * n + 3] - k[4 * n + 1]);
  const union = area(a, i) + area(b, j) - inter;
  return union > 0 ? inter / union : 0;
}

/** IoU of two 0/1 masks of `plane` pixels. */
export function maskIou(a: Uint8Array, i: number, b: Uint8Array, j: number, plane: number): number {
  let inter = 0, union = 0;
  for (let p = 0; p < plane; p++) {
    const x = a[i * plane + p], y = b[j * plane + p];
    inter += x & y;
    union += x | y;
  }
  return union > 0 ? inter / union : 1;
}

/** Tolerances of {@link matchDetections}. */
export interface MatchTolerances {
  minBoxIou: number;
  maxScoreDiff: number;
  minMaskIou: number;
  plane: number;
}

/**
 * Greedy one-to-one matching, best score first; returns the problems found (empty when the lists agree)
 * and the worst figures seen.
 */
export function matchDetections(
  reference: DetectionList,
  ours: DetectionList,
  tol: MatchTolerances,
): { problems: string[]; worstBoxIou: number; worstScoreDiff: number; worstMaskIou: number } {
  const problems: string[] = [];
  const used = new Set<number>();
  let worstBoxIou = 1, worstScoreDiff = 0, worstMaskIou = 1;
  for (let i = 0; i < reference.count; i++) {
    let best = -1, bestIou = -1;
    for (let j = 0; j < ours.count; j++) {
      if (used.has(j) || ours.labels[j] !== reference.labels[i]) continue;
      const iou = boxIou(reference.boxes, i, ours.boxes, j);
      if (iou > bestIou) [best, bestIou] = [j, iou];
    }
    if (best < 0) {
      problems.push(
        `reference #${i} (label ${reference.labels[i]}, score ${reference.scores[i]}) has no partner`,
      );
      continue;
    }
    used.add(best);
    const scoreDiff = Math.abs(reference.scores[i] - ours.scores[best]);
    worstBoxIou = Math.min(worstBoxIou, bestIou);
    worstScoreDiff = Math.max(worstScoreDiff, scoreDiff);
    if (bestIou < tol.minBoxIou) problems.push(`reference #${i}: box IoU ${bestIou.toFixed(4)}`);
    if (scoreDiff > tol.maxScoreDiff) {
      problems.push(`reference #${i}: score ${reference.scores[i]} vs ${ours.scores[best]}`);
    }
    if (reference.masks && ours.masks) {
      const iou = maskIou(reference.masks, i, ours.masks, best, tol.plane);
      worstMaskIou = Math.min(worstMaskIou, iou);
      if (iou < tol.minMaskIou) problems.push(`reference #${i}: mask IoU ${iou.toFixed(4)}`);
    }
  }
  for (let j = 0; j < ours.count; j++) {
    if (!used.has(j)) {
      problems.push(`ours #${j} (label ${ours.labels[j]}, score ${ours.scores[j]}) has no partner`);
    }
  }
  return { problems, worstBoxIou, worstScoreDiff, worstMaskIou };
}
