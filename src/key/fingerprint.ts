import { canonicalize } from "./canonical.js";
import { sha256 } from "./hash.js";

/**
 * A short hash of the data model: a deploy that changes any model, field or relation derives
 * different keys, so it never reads entries written in the old shape.
 */
export function schemaFingerprint(dataModel: unknown): string {
  return sha256(canonicalize(dataModel)).slice(0, 12);
}
