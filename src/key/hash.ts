import { createHash } from "node:crypto";

/** SHA-256, base64url: 43 characters, so collisions between distinct inputs are not plausible. */
export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("base64url");
}
