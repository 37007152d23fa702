import type { Identity } from "../invalidation/model-graph.js";

export interface SchemaModelFacts {
  identities: Identity[];
  /** Relation field → foreign-key fields on this model, from `@relation(fields: [...])`. */
  foreignKeys: Map<string, string[]>;
}

/**
 * Reads identities and foreign keys from Prisma schema source. Prisma 7's runtime data model
 * omits both, but the client carries the schema text; only the attributes needed here are read.
 */
export function readSchemaFacts(schema: string): Map<string, SchemaModelFacts> {
  const facts = new Map<string, SchemaModelFacts>();
  const source = stripComments(schema);
  const modelBlock = /\bmodel\s+(\w+)\s*\{([^}]*)\}/g;
  for (const match of source.matchAll(modelBlock)) {
    facts.set(match[1]!, readModel(match[2]!));
  }
  return facts;
}

function readModel(body: string): SchemaModelFacts {
  const identities: Identity[] = [];
  const foreignKeys = new Map<string, string[]>();
  for (const rawLine of body.split("\n")) {
    const line = rawLine.trim();
    if (line === "") continue;
    if (line.startsWith("@@id") || line.startsWith("@@unique")) {
      const fields = listArgument(line, "fields") ?? firstList(line);
      if (fields === undefined) continue;
      const name = /\bname\s*:\s*"([^"]+)"/.exec(line)?.[1];
      // Prisma names a compound where input after `name:` or by joining the fields with "_".
      identities.push({ key: name ?? fields.join("_"), fields });
      continue;
    }
    const field = /^(\w+)\s+\S+/.exec(line)?.[1];
    if (field === undefined || line.startsWith("@@")) continue;
    if (/@id\b/.test(line) || /@unique\b/.test(line)) identities.push({ key: field, fields: [field] });
    const relation = /@relation\(([^)]*)\)/.exec(line)?.[1];
    const keys = relation === undefined ? undefined : listArgument(relation, "fields");
    if (keys !== undefined) foreignKeys.set(field, keys);
  }
  // The primary key first: it is the identity writes and reads most often use.
  identities.sort((a, b) => Number(isPrimary(body, b)) - Number(isPrimary(body, a)));
  return { identities, foreignKeys };
}

function isPrimary(body: string, identity: Identity): boolean {
  if (identity.fields.length === 1) return new RegExp(`^\\s*${identity.fields[0]}\\s+\\S+[^\\n]*@id\\b`, "m").test(body);
  return /@@id\b/.test(body) && listArgument(/@@id[^\n]*/.exec(body)?.[0] ?? "", "fields")?.join() === identity.fields.join();
}

function listArgument(text: string, name: string): string[] | undefined {
  const list = new RegExp(`\\b${name}\\s*:\\s*\\[([^\\]]*)\\]`).exec(text)?.[1];
  return list === undefined ? undefined : splitList(list);
}

function firstList(text: string): string[] | undefined {
  const list = /\(\s*\[([^\]]*)\]/.exec(text)?.[1];
  return list === undefined ? undefined : splitList(list);
}

/** `a, b(sort: Desc)` → `["a", "b"]`. */
function splitList(list: string): string[] {
  return list.split(",").map((item) => item.trim().replace(/\(.*$/, "")).filter((item) => item !== "");
}

/** Removes `//` comments, leaving `//` inside string literals alone. */
function stripComments(schema: string): string {
  return schema
    .split("\n")
    .map((line) => {
      let inString = false;
      for (let i = 0; i < line.length; i++) {
        const char = line[i];
        if (char === '"' && line[i - 1] !== "\\") inString = !inString;
        if (!inString && char === "/" && line[i + 1] === "/") return line.slice(0, i);
      }
      return line;
    })
    .join("\n");
}
