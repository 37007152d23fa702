/** What Prisma's data model does not say: which blocks are views, and the datasource's provider. */
export interface SchemaBlocks {
  /** Block name → its keyword (`model`, `view`, `enum`, `type`, `generator`, `datasource`). */
  kinds: ReadonlyMap<string, string>;
  /** Where each top-level block starts (its keyword) and ends (after its closing brace). */
  spans: ReadonlyArray<{ keyword: string; name: string; start: number; end: number }>;
  /** The datasource provider (`postgresql`, `mysql`, …), undefined if not written as a string. */
  provider: string | undefined;
}

type Token = { kind: "word" | "string" | "punct"; text: string; start: number };

/**
 * Reads the top-level blocks of a Prisma schema with a tokenizer that knows comments (`//`,
 * `///`) and string literals (with escapes), so braces and quotes inside them never count.
 * Prisma's own parser has validated the text by the time this runs; this only finds the
 * keyword before each block name, which Prisma's data model does not keep (views are models there).
 */
export function readSchemaBlocks(schema: string): SchemaBlocks {
  const kinds = new Map<string, string>();
  const spans: Array<{ keyword: string; name: string; start: number; end: number }> = [];
  let open: { keyword: string; name: string; start: number } | undefined;
  let provider: string | undefined;
  let depth = 0;
  let block: string | undefined;
  const recent: Token[] = [];
  for (const token of tokenize(schema)) {
    if (token.text === "{" && token.kind === "punct") {
      const [keyword, name] = recent.slice(-2);
      if (depth === 0 && keyword?.kind === "word" && name?.kind === "word") {
        kinds.set(name.text, keyword.text);
        block = keyword.text;
        open = { keyword: keyword.text, name: name.text, start: keyword.start };
      }
      depth++;
    } else if (token.text === "}" && token.kind === "punct") {
      depth = Math.max(0, depth - 1);
      if (depth === 0 && open !== undefined) spans.push({ ...open, end: token.start + 1 });
      if (depth === 0) [block, open] = [undefined, undefined];
    } else if (token.kind === "string" && block === "datasource" && depth === 1) {
      const [key, equals] = recent.slice(-2);
      if (key?.text === "provider" && equals?.text === "=") provider = token.text;
    }
    recent.push(token);
    if (recent.length > 2) recent.shift();
  }
  return { kinds, spans, provider };
}

function* tokenize(text: string): Generator<Token> {
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    if (char === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (char === '"') {
      const start = i;
      let value = "";
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\") i++;
        value += text[i] ?? "";
        i++;
      }
      i++;
      yield { kind: "string", text: value, start };
    } else if (/[A-Za-z0-9_]/.test(char)) {
      const start = i;
      while (i < text.length && /[A-Za-z0-9_]/.test(text[i]!)) i++;
      yield { kind: "word", text: text.slice(start, i), start };
    } else {
      if (!/\s/.test(char)) yield { kind: "punct", text: char, start: i };
      i++;
    }
  }
}
