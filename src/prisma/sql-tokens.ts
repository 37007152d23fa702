/** A token of PostgreSQL's SQL, as its lexer splits the text (comments and whitespace dropped). */
export interface SqlToken {
  kind: "word" | "quoted" | "unicode" | "string" | "param" | "number" | "symbol";
  /** A word as written; a quoted name without its quotes (`""` undone); a symbol's characters. */
  text: string;
}

const WORD_START = /[A-Za-z_\u0080-\uFFFF]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uFFFF]/;
/** A dollar quote's opening tag, read where the scan stands (`lastIndex`): any length. */
const DOLLAR_TAG = /\$([A-Za-z_\u0080-\uFFFF][A-Za-z0-9_\u0080-\uFFFF]*)?\$/y;
/** A string's opening, prefixed or not, read where the scan stands (`lastIndex`). */
const STRING_START = /(?:[EeBbXxNn]|[Uu]&)?'/y;

/**
 * Splits SQL text as PostgreSQL's lexer does, so that what a string, a quoted name or a comment
 * holds is never read as code and code glued to them (`SELECT"f"()`) is never missed: comments
 * (`--` to a line end, `/* … *\/` nested) are dropped; strings (`'…'` with `''`, `E'…'` with
 * backslash escapes, `B`/`X`/`N`/`U&` prefixes, `$tag$…$tag$`) are one token each; names are
 * words or quoted (`"…"` with `""`), `U&"…"` a name whose spelling cannot be read plainly.
 * `backslashEscapes`: read plain strings as a server with `standard_conforming_strings` off does.
 * Unterminated strings and comments run to the end (PostgreSQL refuses such a statement).
 */
export function sqlTokens(sql: string, backslashEscapes = false): SqlToken[] {
  const tokens: SqlToken[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v") {
      i++;
    } else if (c === "-" && next === "-") {
      while (i < n && sql[i] !== "\n" && sql[i] !== "\r") i++;
    } else if (c === "/" && next === "*") {
      let depth = 0;
      while (i < n) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          depth--;
          i += 2;
          if (depth === 0) break;
        } else i++;
      }
    } else if (((STRING_START.lastIndex = i), STRING_START.test(sql))) {
      const quote = sql.indexOf("'", i);
      const escapes = backslashEscapes || c === "E" || c === "e";
      i = endOfString(sql, quote + 1, escapes);
      // A string continues in the next quote after whitespace holding a line break (`--` comments
      // allowed there), with the escapes of its first part (outside probe 291: `E'a'⏎'\' …'`).
      for (let next = continuation(sql, i); next !== undefined; next = continuation(sql, i)) i = endOfString(sql, next, escapes);
      tokens.push({ kind: "string", text: "" });
    } else if ((c === "U" || c === "u") && next === "&" && sql[i + 2] === '"') {
      i = endOfQuoted(sql, i + 3).end;
      tokens.push({ kind: "unicode", text: "" });
    } else if (c === '"') {
      const { end, text } = endOfQuoted(sql, i + 1);
      i = end;
      tokens.push({ kind: "quoted", text });
    } else if (c === "$") {
      DOLLAR_TAG.lastIndex = i;
      const tag = DOLLAR_TAG.exec(sql);
      if (tag !== null) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? n : close + tag[0].length;
        tokens.push({ kind: "string", text: "" });
      } else {
        let end = i + 1;
        while (end < n && /[0-9]/.test(sql[end]!)) end++;
        tokens.push({ kind: "param", text: sql.slice(i, end) });
        i = Math.max(end, i + 1);
      }
    } else if (WORD_START.test(c)) {
      let end = i + 1;
      while (end < n && WORD_PART.test(sql[end]!)) end++;
      tokens.push({ kind: "word", text: sql.slice(i, end) });
      i = end;
    } else if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(next ?? ""))) {
      let end = i + 1;
      while (end < n && /[0-9A-Za-z_.]/.test(sql[end]!)) end++;
      tokens.push({ kind: "number", text: sql.slice(i, end) });
      i = end;
    } else if (c === ":" && next === ":") {
      tokens.push({ kind: "symbol", text: "::" });
      i += 2;
    } else {
      tokens.push({ kind: "symbol", text: c });
      i++;
    }
  }
  return tokens;
}

/**
 * Where a string's continuation starts (after its quote), if whitespace with a line break —
 * and `--` comments, each ending at one — separates the next quote from the string just read.
 */
function continuation(sql: string, from: number): number | undefined {
  let i = from;
  let lineBreak = false;
  while (i < sql.length) {
    const c = sql[i];
    if (c === "\n" || c === "\r") {
      lineBreak = true;
      i++;
    } else if (c === " " || c === "\t" || c === "\f" || c === "\v") i++;
    else if (c === "-" && sql[i + 1] === "-") {
      while (i < sql.length && sql[i] !== "\n" && sql[i] !== "\r") i++;
    } else break;
  }
  return lineBreak && sql[i] === "'" ? i + 1 : undefined;
}

/** The index after a string's closing quote (`''` is a quote inside; with `escapes`, so is `\'`). */
function endOfString(sql: string, from: number, escapes: boolean): number {
  let i = from;
  while (i < sql.length) {
    const c = sql[i];
    if (escapes && c === "\\") i += 2;
    else if (c === "'") {
      if (sql[i + 1] === "'") i += 2;
      else return i + 1;
    } else i++;
  }
  return sql.length;
}

/** A quoted name from after its opening quote: where it ends, and its spelling (`""` is a quote inside). */
function endOfQuoted(sql: string, from: number): { end: number; text: string } {
  let text = "";
  let i = from;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '"') {
      if (sql[i + 1] === '"') {
        text += '"';
        i += 2;
      } else return { end: i + 1, text };
    } else {
      text += c;
      i++;
    }
  }
  return { end: sql.length, text };
}
