/**
 * The portal's pages, as eta templates (values are escaped unless written with `<%~`). Every text
 * comes from `it.t` (i18n.ts). The pages need no JavaScript: plain forms, each with the session's
 * anti-forgery token.
 */
import { Eta } from 'eta';

/** The start of every page up to <body>, with the stylesheet at `stylesheet` (shared with the gateway's sign-in pages). */
export const pageHead = (stylesheet: string): string => `<!doctype html>
<html lang="<%= it.lang %>">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<% if (it.refresh) { %><meta http-equiv="refresh" content="<%= it.refresh.seconds %>;url=<%= it.refresh.url %>"><% } %>
<title><%= it.title %> · <%= it.t('app.title') %></title>
<link rel="stylesheet" href="${stylesheet}?v=<%= it.cssVersion %>">
</head>`;

const layout = `${pageHead('/portal/assets/portal.css')}
<body>
<a class="skip" href="#main"><%= it.t('nav.skip') %></a>
<header class="top"><div class="bar">
<a class="brand" href="/portal"><%= it.t('app.title') %> <span>· <%= it.t('app.portal') %></span></a>
<form method="get" action="<%= it.path %>">
<label for="lang-select"><%= it.t('nav.language') %></label>
<select id="lang-select" name="lang"><% for (const l of it.languages) { %><option value="<%= l.code %>"<%~ l.code === it.lang ? ' selected' : '' %>><%= l.name %></option><% } %></select>
<button type="submit"><%= it.t('nav.change') %></button>
</form>
<% if (it.signedIn) { %><form method="post" action="/portal/sign-out"><input type="hidden" name="_csrf" value="<%= it.csrf %>"><button type="submit"><%= it.t('nav.signOut') %></button></form><% } %>
</div></header>
<main id="main">
<%~ it.body %>
</main>
</body>
</html>`;

/** Username, password and the sign-in button (the portal's and the gateway's sign-in forms). */
export const credentialFields = `<div class="field"><label for="username"><%= it.t('signIn.username') %></label>
<input type="text" id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="256" value="<%= it.username %>"<%~ it.username ? '' : ' autofocus' %>></div>
<div class="field"><label for="password"><%= it.t('signIn.password') %></label>
<input type="password" id="password" name="password" autocomplete="current-password" required maxlength="1024"<%~ it.username ? ' autofocus' : '' %>></div>
<button class="primary" type="submit"><%= it.t('signIn.submit') %></button>`;

/**
 * The code field (an authenticator code or a backup code) and its button (the portal's and the
 * gateway's code pages). The pattern escapes the hyphen so browsers, which read it as a `v`-flag
 * expression, apply it.
 */
export const codeFields = `<div class="field"><label for="code"><%= it.t('verify.code') %></label>
<input class="code" type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6,8}|[0-9]{5}[ \\-]?[0-9]{5}" maxlength="11" required autofocus></div>
<button class="primary" type="submit"><%= it.t('verify.submit') %></button>`;

/** The page's notice (success or alert), if any. */
export const notices = `<% if (it.notice) { %><p class="notice <%= it.notice.kind %>" role="<%= it.notice.kind === 'bad' ? 'alert' : 'status' %>"><%= it.notice.text %></p><% } %>`;

const signIn = `<% layout('@layout', it) %>
<section class="card">
<h1><%= it.t('signIn.title') %></h1>
<p class="lead"><%= it.t('signIn.intro') %></p>
${notices}
<form method="post" action="/portal/sign-in">
<input type="hidden" name="_csrf" value="<%= it.csrf %>">
${credentialFields}
</form>
</section>`;

const verify = `<% layout('@layout', it) %>
<section class="card">
<h1><%= it.t('verify.title') %></h1>
<p class="lead"><%= it.reauth ? it.t('verify.reauth') : it.t('verify.intro') %></p>
${notices}
<form method="post" action="<%= it.action %>">
<input type="hidden" name="_csrf" value="<%= it.csrf %>">
${codeFields}
</form>
<% if (it.backupHint) { %><p class="help"><%= it.t('verify.backupHint') %></p><% } %>
<% if (it.questionsHint) { %><p class="help"><%= it.t('questions.signInHint') %> <a href="/portal/verify/questions"><%= it.t('questions.signInLink') %></a></p><% } %>
</section>`;

const questions = `<% layout('@layout', it) %>
<section class="card">
<h1><%= it.t('questions.title') %></h1>
<p class="lead"><%= it.t('questions.intro') %></p>
<p class="help"><%= it.t('questions.weaker') %></p>
${notices}
<form method="post" action="/portal/questions"><input type="hidden" name="_csrf" value="<%= it.csrf %>">
<% for (let i = 1; i <= it.count; i++) { %><fieldset><legend><%= it.t('questions.question', { n: i }) %></legend>
<div class="field"><label for="question-<%= i %>"><%= it.t('questions.question', { n: i }) %></label><select id="question-<%= i %>" name="question<%= i %>" required><% for (const q of it.choices) { %><option value="<%= q.id %>"<%~ it.selected[i - 1] === q.id ? ' selected' : '' %>><%= q.text %></option><% } %></select></div>
<div class="field"><label for="answer-<%= i %>"><%= it.t('questions.answer', { n: i }) %></label><input type="text" id="answer-<%= i %>" name="answer<%= i %>" autocomplete="off" spellcheck="false" minlength="2" maxlength="128" required aria-describedby="answer-help"></div>
</fieldset><% } %>
<p class="help" id="answer-help"><%= it.t('questions.answerHelp') %></p>
<button class="primary" type="submit"><%= it.t('questions.save') %></button> <a href="/portal/account"><%= it.t('questions.skip') %></a>
</form>
</section>`;

const answerQuestions = `<% layout('@layout', it) %>
<section class="card">
<h1><%= it.t('questions.verifyTitle') %></h1>
<p class="lead"><%= it.t('questions.verifyIntro') %></p>
${notices}
<form method="post" action="/portal/verify/questions"><input type="hidden" name="_csrf" value="<%= it.csrf %>">
<% it.asked.forEach((q, i) => { %><div class="field"><label for="answer-<%= i + 1 %>"><%= q.text %></label><input type="text" id="answer-<%= i + 1 %>" name="answer<%= i + 1 %>" autocomplete="off" spellcheck="false" maxlength="128" required<%~ i === 0 ? ' autofocus' : '' %>></div>
<% }) %>
<button class="primary" type="submit"><%= it.t('questions.verifySubmit') %></button>
</form>
<p><a href="/portal/verify"><%= it.t('questions.useCode') %></a></p>
</section>`;

const enroll = `<% layout('@layout', it) %>
<section class="card">
<h1><%= it.t('enroll.title') %></h1>
<p class="lead"><%= it.t('enroll.intro') %></p>
${notices}
<ol class="steps">
<li><%= it.t('enroll.step1') %></li>
<li><%= it.t('enroll.step2') %>
<img class="qr" src="<%= it.qrDataUri %>" alt="<%= it.t('enroll.qrAlt') %>" width="208" height="208">
<%= it.t('enroll.manual') %> <code class="secret" id="secret"><%= it.secretGroups %></code></li>
<li><form method="post" action="<%= it.action %>">
<input type="hidden" name="_csrf" value="<%= it.csrf %>">
<div class="field"><label for="code"><%= it.t('enroll.step3') %></label>
<input class="code" type="text" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6,8}" maxlength="8" required></div>
<button class="primary" type="submit"><%= it.t('enroll.submit') %></button>
</form></li>
</ol>
</section>`;

/**
 * Waiting for the mobile app (the number to select) or a phone call; the page reloads itself
 * (`it.refresh`) until the answer comes. `codeAction` switches to a typed code. Shared with the gateway.
 */
export const waitingSection = `<section class="card">
<h1><%= it.t('waiting.title') %></h1>
<% if (it.match !== undefined) { %><p class="lead"><%= it.t('waiting.push') %></p>
<p class="match" id="match" aria-label="<%= it.t('waiting.number') %>"><%= it.match %></p>
<% } else { %><p class="lead"><%= it.t('waiting.call', { to: it.sentTo }) %></p><% } %>
<p class="help"><%= it.t('waiting.refresh') %></p>
<form method="post" action="<%= it.codeAction %>"><input type="hidden" name="_csrf" value="<%= it.csrf %>"><button class="secondary" type="submit"><%= it.t('waiting.useCode') %></button></form>
</section>`;

const waiting = `<% layout('@layout', it) %>
${waitingSection}`;

const mobileApp = `<% layout('@layout', it) %>
<section class="card">
<h1><%= it.t('mobile.title') %></h1>
<p class="lead"><%= it.t('mobile.intro') %></p>
<ol class="steps">
<li><%= it.t('mobile.step1') %>
<img class="qr" src="<%= it.qrDataUri %>" alt="<%= it.t('mobile.qrAlt') %>" width="208" height="208">
<%= it.t('mobile.link') %> <code class="secret" id="activation-link"><%= it.link %></code></li>
<li><%= it.t('mobile.step2') %></li>
</ol>
<p class="help"><%= it.t('mobile.expires', { time: it.expires }) %></p>
<p><a class="button primary" href="/portal/account"><%= it.t('mobile.done') %></a></p>
</section>`;

const backup = `<% layout('@layout', it) %>
<section class="card">
<h1><%= it.t('backup.title') %></h1>
<p class="lead"><%= it.t('backup.intro') %></p>
<ol class="codes" id="backup-codes"><% for (const c of it.codes) { %><li><code><%= c %></code></li><% } %></ol>
<p><a class="button primary" href="<%= it.continueHref %>"><%= it.t('backup.continue') %></a></p>
</section>`;

const message = `<% layout('@layout', it) %>
<section class="card">
<h1><%= it.title %></h1>
${notices}
<% if (it.text) { %><p><%= it.text %></p><% } %>
<% if (it.link) { %><p><a href="<%= it.link.href %>"><%= it.link.text %></a></p><% } %>
</section>`;

const phoneFields = `<fieldset><legend><%= it.label %></legend><div class="row">
<div class="field"><label for="<%= it.name %>-country"><%= it.t('account.country') %></label><input type="text" id="<%= it.name %>-country" name="<%= it.name %>Country" maxlength="2" autocomplete="off" value="<%= it.phone ? (it.phone.country || '') : '' %>" aria-describedby="<%= it.name %>-country-help"></div>
<div class="field"><label for="<%= it.name %>-number"><%= it.t('account.number') %></label><input type="tel" id="<%= it.name %>-number" name="<%= it.name %>Number" maxlength="64" autocomplete="tel" value="<%= it.phone ? it.phone.number : '' %>"></div>
<div class="field"><label for="<%= it.name %>-ext"><%= it.t('account.extension') %></label><input type="text" id="<%= it.name %>-ext" name="<%= it.name %>Extension" inputmode="numeric" maxlength="10" value="<%= it.phone && it.phone.extension ? it.phone.extension : '' %>"></div>
</div><span class="help" id="<%= it.name %>-country-help"><%= it.t('account.countryHelp') %></span></fieldset>`;

const account = `<% layout('@layout', it) %>
<h1><%= it.t('account.title') %></h1>
<p class="lead"><%= it.t('account.welcome', { name: it.user.displayName || it.user.username }) %></p>
${notices}

<section class="card" aria-labelledby="methods-h">
<h2 id="methods-h"><%= it.t('account.methods') %></h2>
<% if (it.methods.length === 0) { %><p><%= it.t('account.methodsNone') %></p><% } %>
<ul class="methods">
<% for (const m of it.methods) { %><li><div><strong><%= m.label %></strong><% if (m.label !== m.typeName) { %> <span class="meta">(<%= m.typeName %>)</span><% } %><br><span class="meta"><%= m.meta %></span></div>
<% if (it.portal.allowMethodChange && it.methods.length > 1) { %><form method="post" action="/portal/methods/<%= m.id %>/remove"><input type="hidden" name="_csrf" value="<%= it.csrf %>"><button class="danger" type="submit" aria-label="<%= it.t('account.removeLabel', { label: m.label }) %>"><%= it.t('account.remove') %></button></form><% } %></li>
<% } %>
</ul>
<% if (it.portal.allowMethodChange && it.canEnroll) { %><form method="post" action="/portal/methods/add"><input type="hidden" name="_csrf" value="<%= it.csrf %>"><button class="secondary" type="submit"><%= it.t('account.add') %></button></form><% } %>
<% if (it.portal.allowMethodChange && it.mobileOffered) { %><form method="post" action="/portal/mobile-app"><input type="hidden" name="_csrf" value="<%= it.csrf %>"><button class="secondary" type="submit"><%= it.t('account.addMobile') %></button></form><% } %>
<% if (it.portal.allowMethodChange && it.defaultChoices.length > 1) { %>
<form method="post" action="/portal/account/default-method"><input type="hidden" name="_csrf" value="<%= it.csrf %>">
<div class="field"><label for="default-method"><%= it.t('account.defaultMethod') %></label><select id="default-method" name="defaultMethod"><% for (const c of it.defaultChoices) { %><option value="<%= c.value %>"<%~ c.selected ? ' selected' : '' %>><%= c.name %></option><% } %></select></div>
<button class="secondary" type="submit"><%= it.t('account.saveDefault') %></button></form>
<% } %>
</section>

<% if (it.backupOffered) { %>
<section class="card" aria-labelledby="backup-h">
<h2 id="backup-h"><%= it.t('backup.section') %></h2>
<p><%= it.backupLeft === null ? it.t('backup.none') : it.t('backup.left', { count: it.backupLeft }) %></p>
<form method="post" action="/portal/backup-codes"><input type="hidden" name="_csrf" value="<%= it.csrf %>">
<% if (it.backupLeft !== null) { %><p class="help"><%= it.t('backup.replaceWarning') %></p><% } %>
<button class="secondary" type="submit"><%= it.t('backup.create') %></button></form>
</section>
<% } %>

<% if (it.questionsOffered) { %>
<section class="card" aria-labelledby="questions-h">
<h2 id="questions-h"><%= it.t('questions.section') %></h2>
<p><%= it.questionsSet ? it.t('questions.set') : it.t('questions.none') %></p>
<p class="help"><%= it.t('questions.weaker') %></p>
<form method="post" action="/portal/questions/edit"><input type="hidden" name="_csrf" value="<%= it.csrf %>">
<button class="secondary" type="submit"><%= it.questionsSet ? it.t('questions.change') : it.t('questions.create') %></button></form>
</section>
<% } %>

<% if (it.portal.allowPinChange) { %>
<section class="card" aria-labelledby="pin-h">
<h2 id="pin-h"><%= it.t('account.pin') %></h2>
<p><%= it.user.hasPin ? it.t('account.pinSet') : it.t('account.pinNone') %></p>
<form method="post" action="/portal/account/pin"><input type="hidden" name="_csrf" value="<%= it.csrf %>">
<div class="field"><label for="pin"><%= it.t('account.newPin') %></label><input type="password" id="pin" name="pin" inputmode="numeric" autocomplete="new-password" minlength="<%= it.pinPolicy.minLength %>" maxlength="<%= it.pinPolicy.maxLength %>" pattern="[0-9]*" required aria-describedby="pin-help"><span class="help" id="pin-help"><%= it.t('account.pinHelp', { min: it.pinPolicy.minLength, max: it.pinPolicy.maxLength }) %><% if (it.pinPolicy.refuseTrivial) { %> <%= it.t('account.pinTrivial') %><% } %></span></div>
<div class="field"><label for="pin2"><%= it.t('account.confirmPin') %></label><input type="password" id="pin2" name="pinAgain" inputmode="numeric" autocomplete="new-password" maxlength="<%= it.pinPolicy.maxLength %>" pattern="[0-9]*" required></div>
<button class="secondary" type="submit"><%= it.t('account.savePin') %></button></form>
</section>
<% } %>

<% if (it.portal.allowPhoneChange) { %>
<section class="card" aria-labelledby="phones-h">
<h2 id="phones-h"><%= it.t('account.profile') %></h2>
<form method="post" action="/portal/account/phones"><input type="hidden" name="_csrf" value="<%= it.csrf %>">
<%~ include('@phone', { t: it.t, name: 'phone', label: it.t('account.phone'), phone: it.user.phone }) %>
<%~ include('@phone', { t: it.t, name: 'backup', label: it.t('account.backupPhone'), phone: it.user.backupPhone }) %>
<button class="secondary" type="submit"><%= it.t('account.savePhones') %></button></form>
</section>
<% } %>

<% if (it.phones.length > 0) { %>
<section class="card" aria-labelledby="phone-check-h">
<h2 id="phone-check-h"><%= it.t('account.phoneCheck') %></h2>
<p><%= it.smsEnabled ? it.t('account.phoneCheckIntro') : it.t('account.phoneCheckOff') %></p>
<ul class="methods" id="phone-check">
<% for (const ph of it.phones) { %><li id="phone-check-<%= ph.which %>"><div><strong><%= ph.label %></strong> <span class="meta"><%= ph.number %></span><br><span class="meta"><%= ph.verified ? it.t('account.phoneStatusVerified') : it.t('account.phoneStatusUnverified') %></span></div>
<% if (!ph.verified && it.smsEnabled) { %><form method="post" action="/portal/phones/<%= ph.which %>/send"><input type="hidden" name="_csrf" value="<%= it.csrf %>"><button class="secondary" type="submit" aria-label="<%= it.t('account.sendCodeLabel', { number: ph.number }) %>"><%= it.t('account.sendCode') %></button></form><% } %></li>
<% if (!ph.verified && it.smsEnabled && ph.codeSent) { %><li><form method="post" action="/portal/phones/<%= ph.which %>/confirm"><input type="hidden" name="_csrf" value="<%= it.csrf %>">
<div class="field"><label for="phone-code-<%= ph.which %>"><%= it.t('account.phoneCode', { number: ph.number }) %></label><input class="code" type="text" id="phone-code-<%= ph.which %>" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required></div>
<button class="primary" type="submit"><%= it.t('account.confirmCode') %></button></form></li><% } %>
<% } %>
</ul>
</section>
<% } %>

<% if (it.portal.allowLanguageChange) { %>
<section class="card" aria-labelledby="lang-h">
<h2 id="lang-h"><%= it.t('account.language') %></h2>
<form method="post" action="/portal/account/language"><input type="hidden" name="_csrf" value="<%= it.csrf %>">
<div class="field"><label for="user-language"><%= it.t('account.language') %></label><select id="user-language" name="language"><% for (const l of it.languages) { %><option value="<%= l.code %>"<%~ l.code === it.userLanguage ? ' selected' : '' %>><%= l.name %></option><% } %></select></div>
<button class="secondary" type="submit"><%= it.t('account.saveLanguage') %></button></form>
</section>
<% } %>

<% if (it.portal.allowBypass) { %>
<section class="card" aria-labelledby="bypass-h">
<h2 id="bypass-h"><%= it.t('account.bypass') %></h2>
<p><%= it.t('account.bypassIntro') %></p>
<% if (it.bypass) { %><p><%= it.t('account.bypassActive', { date: it.bypass.until }) %></p>
<form method="post" action="/portal/bypass/cancel"><input type="hidden" name="_csrf" value="<%= it.csrf %>"><button class="secondary" type="submit"><%= it.t('account.bypassCancel') %></button></form>
<% } else { %>
<form method="post" action="/portal/bypass"><input type="hidden" name="_csrf" value="<%= it.csrf %>">
<div class="field"><label for="bypass-seconds"><%= it.t('account.bypassSeconds') %></label><input type="number" id="bypass-seconds" name="seconds" min="30" max="<%= it.portal.bypassSeconds %>" value="<%= it.portal.bypassSeconds %>" required></div>
<button class="secondary" type="submit"><%= it.t('account.bypassStart') %></button></form>
<% } %>
</section>
<% } %>

<section class="card" aria-labelledby="recent-h">
<h2 id="recent-h"><%= it.t('account.recent') %></h2>
<% if (it.recent.length === 0) { %><p><%= it.t('account.recentNone') %></p><% } else { %>
<table><thead><tr><th scope="col"><%= it.t('account.when') %></th><th scope="col" class="where"><%= it.t('account.where') %></th><th scope="col"><%= it.t('account.app') %></th><th scope="col"><%= it.t('account.result') %></th><% if (it.fraudAllowed) { %><th scope="col"><span class="skip"><%= it.t('account.notMe') %></span></th><% } %></tr></thead><tbody>
<% for (const e of it.recent) { %><tr><td><%= e.when %></td><td class="where"><%= e.where %></td><td><%= e.application %></td><td class="result-<%= e.result %>"><%= e.resultText %></td>
<% if (it.fraudAllowed) { %><td><% if (e.authenticationId) { %><form method="get" action="/portal/fraud"><input type="hidden" name="authentication" value="<%= e.authenticationId %>"><button class="danger" type="submit" aria-label="<%= it.t('account.notMeLabel', { date: e.when }) %>"><%= it.t('account.notMe') %></button></form><% } %></td><% } %></tr>
<% } %></tbody></table>
<% } %>
</section>`;

const fraud = `<% layout('@layout', it) %>
<section class="card">
<h1><%= it.t('fraud.title') %></h1>
<p class="lead"><%= it.t('fraud.intro') %></p>
<% if (it.blocks) { %><p class="notice bad"><%= it.t('fraud.blockWarning') %></p><% } %>
<form method="post" action="/portal/fraud"><input type="hidden" name="_csrf" value="<%= it.csrf %>"><input type="hidden" name="authentication" value="<%= it.authenticationId %>">
<div class="field"><label for="note"><%= it.t('fraud.note') %></label><textarea id="note" name="note" rows="3" maxlength="500"></textarea></div>
<button class="danger" type="submit"><%= it.t('fraud.submit') %></button> <a href="/portal/account"><%= it.t('fraud.cancel') %></a>
</form>
</section>`;

export function createViews(): Eta {
  const eta = new Eta({ autoEscape: true, useWith: false, cache: true, autoTrim: false });
  eta.loadTemplate('@layout', layout);
  eta.loadTemplate('@phone', phoneFields);
  eta.loadTemplate('@signIn', signIn);
  eta.loadTemplate('@verify', verify);
  eta.loadTemplate('@enroll', enroll);
  eta.loadTemplate('@message', message);
  eta.loadTemplate('@account', account);
  eta.loadTemplate('@fraud', fraud);
  eta.loadTemplate('@backup', backup);
  eta.loadTemplate('@mobileApp', mobileApp);
  eta.loadTemplate('@waiting', waiting);
  eta.loadTemplate('@questions', questions);
  eta.loadTemplate('@answerQuestions', answerQuestions);
  return eta;
}

export type PageName = 'signIn' | 'verify' | 'enroll' | 'message' | 'account' | 'fraud' | 'backup' | 'questions' | 'answerQuestions' | 'mobileApp' | 'waiting';
