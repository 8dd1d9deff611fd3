// The login page: a form that posts the API token (never a URL parameter) and gets a session cookie back.
import type { Html } from '../html.ts';
import { h } from '../html.ts';
import { page, problem, UI } from '../layout.ts';

export function loginPage(error?: string): Html {
  return page({
    title: 'Log in',
    active: '',
    body: h`${error === undefined ? '' : problem(error, 'the token is in $CORRAL_HOME/api-token')}
      <form method="post" action="${UI}/login" class="card narrow" autocomplete="off">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" required autofocus spellcheck="false" />
        <button type="submit">Log in</button>
      </form>`,
  });
}
