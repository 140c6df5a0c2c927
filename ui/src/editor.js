// The editor island: turns a `<textarea data-editor="dqdl">` into a
// CodeMirror editor with DQDL highlighting, completion of rule types (from
// the server's rule-type table) and of the chosen dataset's columns, and
// live validation through the console's validate endpoint. The text area
// stays in the form (hidden) and is kept in step, so every form button
// posts what the editor shows; without JavaScript the text area is used.
import { EditorState } from "@codemirror/state";
import { EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { syntaxHighlighting, defaultHighlightStyle, bracketMatching } from "@codemirror/language";
import { autocompletion, completionKeymap, closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { linter, lintGutter, lintKeymap } from "@codemirror/lint";
import { dqdl } from "./dqdl.js";

const KEYWORDS = ["Rules", "Analyzers", "Metadata", "where", "with", "and", "or", "not", "between", "in", "matches", "threshold"];

async function getJSON(url) {
  try {
    const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    return answer.ok ? await answer.json() : [];
  } catch {
    return [];
  }
}

// Completion: column names inside an open string, else rule types and keywords.
function completer(ruleTypes, columns) {
  return async (context) => {
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    const quotes = (before.match(/(^|[^\\])"/g) || []).length;
    if (quotes % 2 === 1) {
      const start = before.lastIndexOf("\"") + 1;
      const names = columns();
      if (!names.length) return null;
      return {
        from: line.from + start,
        options: names.map((c) => ({ label: c.name, type: "property", detail: c.type })),
        validFor: /^[^"]*$/,
      };
    }
    const word = context.matchBefore(/[A-Za-z_]\w*/);
    if (!word && !context.explicit) return null;
    const types = await ruleTypes;
    return {
      from: word ? word.from : context.pos,
      options: [
        ...types.map((t) => ({
          label: t.name,
          type: "type",
          detail: t.signature.slice(t.name.length).trim(),
          info: `${t.description}\nExample: ${t.example}`,
          boost: 1,
        })),
        ...KEYWORDS.map((k) => ({ label: k, type: "keyword" })),
      ],
      validFor: /^\w*$/,
    };
  };
}

// Validation: the server's errors as diagnostics at their line and column.
function validator(url, csrf, host) {
  return async (view) => {
    const body = new URLSearchParams({ csrf, text: view.state.doc.toString() });
    let answer;
    try {
      const response = await fetch(url, { method: "POST", body, credentials: "same-origin" });
      if (!response.ok) return [];
      answer = await response.json();
    } catch {
      return [];
    }
    const doc = view.state.doc;
    host.dataset.lint = answer.valid ? "valid" : `${answer.errors.length} error(s)`;
    return answer.errors.map((e) => {
      const line = doc.line(Math.min(Math.max(e.line, 1), doc.lines));
      const from = Math.min(line.from + Math.max(e.column, 1) - 1, line.to);
      let to = Math.min(from + Math.max(e.length, 1), line.to);
      if (to <= from) to = Math.min(from + 1, doc.length);
      return { from, to, severity: "error", message: e.message };
    });
  };
}

function enhance(textarea) {
  const form = textarea.form;
  const csrf = form?.querySelector("input[name=\"csrf\"]")?.value ?? "";
  const ruleTypes = getJSON(textarea.dataset.ruleTypes);
  const select = document.getElementById(textarea.dataset.datasetSelect);
  let columns = [];
  const loadColumns = async () => {
    columns = select && select.value ? await getJSON(`/datasets/${encodeURIComponent(select.value)}/columns`) : [];
  };
  select?.addEventListener("change", loadColumns);
  loadColumns();

  // CodeMirror styles itself with a style sheet it builds at run time. In a
  // shadow root that sheet is a constructed one, which the console's
  // Content-Security-Policy (no inline styles) allows; in the document it
  // would be a <style> element, which the policy blocks.
  const host = document.createElement("div");
  host.className = "dqdl-editor-host";
  const shadow = host.attachShadow({ mode: "open" });
  const sheet = document.createElement("link");
  sheet.rel = "stylesheet";
  sheet.href = "/assets/editor.css";
  shadow.append(sheet);
  const label = document.querySelector(`label[for="${textarea.id}"]`);
  const hint = textarea.id === "text" ? document.getElementById("editor-hint")?.textContent ?? "" : "";
  const view = new EditorView({
    root: shadow,
    state: EditorState.create({
      doc: textarea.value,
      extensions: [
        lineNumbers(),
        highlightActiveLineGutter(),
        history(),
        drawSelection(),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        dqdl,
        syntaxHighlighting(defaultHighlightStyle),
        autocompletion({ override: [completer(ruleTypes, () => columns)] }),
        linter(validator(textarea.dataset.validate, csrf, host), { delay: 400 }),
        lintGutter(),
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap, ...lintKeymap]),
        EditorView.lineWrapping,
        EditorView.editorAttributes.of({ class: "dqdl-editor" }),
        // ARIA references cannot cross the shadow root: name it directly.
        EditorView.contentAttributes.of({
          "aria-label": `${label?.textContent ?? "DQDL"}. ${hint}`.trim(),
          "aria-multiline": "true",
        }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) textarea.value = update.state.doc.toString();
        }),
      ],
    }),
  });
  textarea.hidden = true;
  shadow.append(view.dom);
  textarea.after(host);
  label?.addEventListener("click", () => view.focus());
  // Tests and scripts reach the editor through its text area.
  textarea.dqEditor = view;
}

function start() {
  document.querySelectorAll("textarea[data-editor=\"dqdl\"]").forEach(enhance);
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
