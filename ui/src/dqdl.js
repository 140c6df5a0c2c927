// A CodeMirror StreamLanguage for DQDL: comments, strings, numbers, the
// section keywords, rule types (any capitalised word followed by a space is
// highlighted as one; the validator decides whether it exists), operators,
// dynamic functions and duration units.
import { StreamLanguage } from "@codemirror/language";

const KEYWORDS = new Set(["Rules", "Analyzers", "Metadata", "DataSources", "where", "with", "and", "or", "not", "between", "in", "matches", "NULL", "EMPTY", "WHITESPACES_ONLY"]);
const FUNCTIONS = new Set(["now", "last", "avg", "median", "min", "max", "sum", "std", "abs", "index"]);
const UNITS = new Set(["days", "day", "hours", "hour", "minutes", "minute", "seconds", "second", "B", "KB", "MB", "GB", "TB"]);

// The rest of a string literal (strings may not span lines in DQDL, but an
// unclosed one is coloured to the end of the line).
function readString(stream, state) {
  while (!stream.eol()) {
    const ch = stream.next();
    if (ch === "\\") { stream.next(); continue; }
    if (ch === "\"") { state.inString = false; return "string"; }
  }
  state.inString = false;
  return "string";
}

export const dqdl = StreamLanguage.define({
  name: "dqdl",
  startState: () => ({ inString: false }),
  token(stream, state) {
    if (state.inString) return readString(stream, state);
    if (stream.eatSpace()) return null;
    if (stream.match("#")) { stream.skipToEnd(); return "comment"; }
    if (stream.peek() === "\"") {
      stream.next();
      state.inString = true;
      return readString(stream, state);
    }
    if (stream.match(/^-?\d+(\.\d+)?([eE][-+]?\d+)?/)) return "number";
    if (stream.match(/^(>=|<=|!=|=|>|<|\+|-|\*|\/)/)) return "operator";
    if (stream.match(/^[\[\](){},]/)) return "bracket";
    const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/);
    if (word) {
      const w = word[0];
      if (KEYWORDS.has(w)) return "keyword";
      if (FUNCTIONS.has(w) && stream.peek() === "(") return "variableName.function";
      if (UNITS.has(w)) return "atom";
      if (/^[A-Z]/.test(w)) return "typeName";
      return "variableName";
    }
    stream.next();
    return null;
  },
  languageData: { commentTokens: { line: "#" } },
});
