import { ENTRY_FORMAT } from "../codec/codec.js";
import { canonicalize } from "./canonical.js";
import { sha256 } from "./hash.js";

/**
 * A short hash of the data model (with the schema text's `shape`: ids, uniques, optionality,
 * defaults, referential actions, enum values — see readSchema) and of how entries are encoded: a
 * deploy that changes any of them, or the encoding, derives different keys, so it never reads entries written
 * in the old shape — nor do the instances it replaces read its (a rolling deploy: an older
 * version read a Buffer tag it did not know as a corrupt entry and stored its own converted
 * form back, which the newer version then served; outside probe 151).
 */
export function schemaFingerprint(dataModel: unknown, shape = ""): string {
  return sha256(`${canonicalize(dataModel)}|${shape}|entries v${ENTRY_FORMAT}`).slice(0, 12);
}
