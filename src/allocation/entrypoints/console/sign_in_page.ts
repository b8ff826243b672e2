import { html, type Html } from './html';

export function signInPage(next: string): Html {
  return html`<form class="sign-in" action="/console/sign_in" method="post">
    <p>This console is protected by the service's <code>ADMIN_TOKEN</code>.</p>
    <label for="token">Admin token</label>
    <input
      id="token"
      name="token"
      type="password"
      required
      autocomplete="current-password"
      autofocus
    />
    <input type="hidden" name="next" value="${next}" />
    <button type="submit">Sign in</button>
  </form>`;
}
