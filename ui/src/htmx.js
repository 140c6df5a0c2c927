// htmx for partial updates (Try it, Check only, filters), configured for
// the console's Content-Security-Policy: no eval, no inline styles or
// scripts; a 422 (invalid ruleset) is swapped in like a 200, because its
// page says what is wrong.
import htmx from "htmx.org";

htmx.config.includeIndicatorStyles = false;
htmx.config.allowEval = false;
htmx.config.allowScriptTags = false;
htmx.config.selfRequestsOnly = true;
htmx.config.historyCacheSize = 0;
htmx.config.responseHandling = [
  { code: "204", swap: false },
  { code: "[23]..", swap: true },
  { code: "422", swap: true },
  { code: "[45]..", swap: false, error: true },
];
window.htmx = htmx;
