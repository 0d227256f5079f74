/** The portal's style sheet: one small file, no framework, readable on a phone and a desktop. */
export const PORTAL_CSS = `
:root { --ink: #1b1f24; --muted: #4a5360; --line: #d5dbe3; --bg: #f4f6f9; --card: #fff; --brand: #1f4fbf; --brand-dark: #173c92; --ok-bg: #e6f4ea; --ok: #1e5b2e; --bad-bg: #fbe9e9; --bad: #8a1c1c; --focus: #f0b400; }
* { box-sizing: border-box; }
html { font-size: 100%; }
body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: var(--bg); }
a { color: var(--brand); }
a:focus, button:focus, input:focus, select:focus, textarea:focus { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--card); padding: .5rem 1rem; }
.skip:focus { left: 1rem; }
header.top { background: var(--brand); color: #fff; }
header.top .bar { max-width: 46rem; margin: 0 auto; padding: .75rem 1rem; display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; justify-content: space-between; }
header.top .brand { font-weight: 700; font-size: 1.1rem; color: #fff; text-decoration: none; }
header.top .brand span { font-weight: 400; opacity: .95; }
header.top form { display: flex; gap: .5rem; align-items: center; margin: 0; }
header.top label { color: #fff; font-size: .9rem; }
header.top select { padding: .25rem; border-radius: .25rem; border: 0; }
header.top button { background: #fff; color: var(--brand-dark); border: 0; border-radius: .25rem; padding: .3rem .7rem; font: inherit; font-size: .9rem; cursor: pointer; }
main { max-width: 46rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 .75rem; }
h2 { font-size: 1.2rem; margin: 0 0 .5rem; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: .5rem; padding: 1.25rem; margin: 0 0 1.25rem; }
p.lead { color: var(--muted); margin-top: 0; }
.field { margin: 0 0 1rem; }
.field label, fieldset legend { display: block; font-weight: 600; margin-bottom: .25rem; }
.help { display: block; color: var(--muted); font-size: .875rem; margin-top: .2rem; }
input[type=text], input[type=password], input[type=number], input[type=tel], select, textarea { width: 100%; padding: .6rem .7rem; font: inherit; border: 1px solid #8a94a3; border-radius: .35rem; background: #fff; color: var(--ink); }
input.code { font-size: 1.5rem; letter-spacing: .3rem; max-width: 12rem; text-align: center; font-variant-numeric: tabular-nums; }
fieldset { border: 1px solid var(--line); border-radius: .4rem; margin: 0 0 1rem; padding: .75rem 1rem; }
.row { display: grid; grid-template-columns: 8rem 1fr 6.5rem; gap: .5rem; align-items: end; }
.row .field { margin: 0; }
button.primary, button.secondary, button.danger { font: inherit; font-weight: 600; border-radius: .35rem; padding: .6rem 1.1rem; cursor: pointer; border: 1px solid transparent; }
button.primary { background: var(--brand); color: #fff; }
button.primary:hover { background: var(--brand-dark); }
button.secondary { background: #fff; color: var(--brand-dark); border-color: var(--brand); }
button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
.notice { border-radius: .4rem; padding: .75rem 1rem; margin: 0 0 1rem; }
.notice.ok { background: var(--ok-bg); color: var(--ok); }
.notice.bad { background: var(--bad-bg); color: var(--bad); }
.match { font-size: 3rem; font-weight: 700; letter-spacing: .2rem; margin: .5rem 0 1rem; font-variant-numeric: tabular-nums; }
.qr { display: block; width: 13rem; height: 13rem; margin: .5rem 0; background: #fff; border: 1px solid var(--line); }
code.secret { display: inline-block; font-size: 1.05rem; letter-spacing: .08rem; background: var(--bg); padding: .3rem .5rem; border-radius: .25rem; word-break: break-all; }
ol.steps { padding-left: 1.25rem; }
ol.steps li { margin-bottom: .75rem; }
ul.methods { list-style: none; padding: 0; margin: 0 0 1rem; }
ul.methods li { display: flex; justify-content: space-between; align-items: center; gap: 1rem; border-bottom: 1px solid var(--line); padding: .6rem 0; }
ul.methods .meta { color: var(--muted); font-size: .875rem; }
table { width: 100%; border-collapse: collapse; font-size: .95rem; }
th, td { text-align: left; padding: .45rem .35rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { color: var(--muted); font-weight: 600; }
td form { margin: 0; }
.result-approved { color: var(--ok); font-weight: 600; }
.result-denied, .result-expired { color: var(--bad); font-weight: 600; }
.inline { display: inline; }
ol.codes { columns: 2; font-size: 1.15rem; padding-left: 1.75rem; }
ol.codes li { margin-bottom: .4rem; }
ol.codes code { font-variant-numeric: tabular-nums; letter-spacing: .05rem; }
a.button { display: inline-block; text-decoration: none; font-weight: 600; border-radius: .35rem; padding: .6rem 1.1rem; }
a.button.primary { background: var(--brand); color: #fff; }
@media (max-width: 32rem) {
  .row { grid-template-columns: 1fr; }
  th.where, td.where { display: none; }
  h1 { font-size: 1.35rem; }
}
`;
