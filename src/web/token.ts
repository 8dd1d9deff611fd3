// The API's bearer token: 32 random bytes in $CORRAL_HOME/api-token (mode 0600), made by `corral init` or the
// first `corral up`, compared in constant time.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { HomePaths } from '../config/home.ts';
import { readRegularFile } from '../config/yaml-file.ts';
import { CorralError } from '../util/errors.ts';

export const apiTokenFile = (home: HomePaths): string => path.join(home.root, 'api-token');

export function readApiToken(home: HomePaths): string | undefined {
  const file = apiTokenFile(home);
  const text = readRegularFile(file)?.trim();
  if (text === undefined) return undefined;
  if ((fs.statSync(file).mode & 0o077) !== 0)
    throw new CorralError('token_exposed', `${file} is readable by others`, `chmod 600 ${file}`);
  if (text.length < 32)
    throw new CorralError(
      'token_invalid',
      `${file} holds no usable token`,
      `remove it; corral up makes a new one`,
    );
  return text;
}

export function loadOrCreateApiToken(home: HomePaths): string {
  const existing = readApiToken(home);
  if (existing !== undefined) return existing;
  const token = crypto.randomBytes(32).toString('base64url');
  fs.writeFileSync(apiTokenFile(home), token + '\n', { mode: 0o600, flag: 'wx' });
  return token;
}
