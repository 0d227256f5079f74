/**
 * The gateway's sign-in pages, as eta templates over the portal's stylesheet and texts (values
 * are escaped unless written with `<%~`). No JavaScript: plain forms with an anti-forgery token.
 */
import { Eta } from 'eta';
import { codeFields, credentialFields, notices, pageHead, waitingSection } from '../portal/views.ts';

const layout = `${pageHead('/gateway/assets/gateway.css')}
<body>
<header class="top"><div class="bar"><span class="brand"><%= it.t('app.title') %></span></div></header>
<main id="main">
<%~ it.body %>
</main>
</body>
</html>`;


const signIn = `<% layout('@layout', it) %>
<section class="card">
<h1><%= it.title %></h1>
<p class="lead"><%= it.t('gateway.intro') %></p>
${notices}
<form method="post" action="/gateway/sign-in">
<input type="hidden" name="_csrf" value="<%= it.csrf %>">
<input type="hidden" name="rd" value="<%= it.rd %>">
${credentialFields}
</form>
</section>`;

const verify = `<% layout('@layout', it) %>
<section class="card">
<h1><%= it.title %></h1>
<p class="lead"><%= it.t('gateway.verifyIntro', { site: it.site }) %></p>
${notices}
<form method="post" action="/gateway/verify">
<input type="hidden" name="_csrf" value="<%= it.csrf %>">
${codeFields}
</form>
</section>`;

const waiting = `<% layout('@layout', it) %>
${waitingSection}`;

const signOut = `<% layout('@layout', it) %>
<section class="card">
<h1><%= it.title %></h1>
<p class="lead"><%= it.t('gateway.signOutIntro') %></p>
<form method="post" action="/gateway/sign-out"><input type="hidden" name="_csrf" value="<%= it.csrf %>">
<button class="primary" type="submit"><%= it.t('gateway.signOut') %></button></form>
</section>`;

const message = `<% layout('@layout', it) %>
<section class="card">
<h1><%= it.title %></h1>
${notices}
<% if (it.text) { %><p><%= it.text %></p><% } %>
</section>`;

export type GatewayPage = 'signIn' | 'verify' | 'signOut' | 'message' | 'waiting';

export function createGatewayViews(): Eta {
  const eta = new Eta({ autoEscape: true, useWith: false, cache: true, autoTrim: false });
  eta.loadTemplate('@layout', layout);
  eta.loadTemplate('@signIn', signIn);
  eta.loadTemplate('@verify', verify);
  eta.loadTemplate('@signOut', signOut);
  eta.loadTemplate('@message', message);
  eta.loadTemplate('@waiting', waiting);
  return eta;
}
